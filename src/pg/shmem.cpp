#include <cstring>

#include "pg/shmem.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"
}

#include "pg/compat.hpp"

namespace sc::pg {

namespace {

struct Shared {
    slock_t mutex;
    Latch *launcher_latch;
    int n_wanted;
    Oid wanted[max_wanted_dbs];
    Oid held[max_held_dbs];
    LiveJob jobs[max_live_jobs];
};

Shared *shared = nullptr;

#if SC_HAS_SHMEM_REQUEST_HOOK
shmem_request_hook_type prev_shmem_request_hook = nullptr;
#endif
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

void shmem_request() {
#if SC_HAS_SHMEM_REQUEST_HOOK
    if (prev_shmem_request_hook)
        prev_shmem_request_hook();
#endif
    RequestAddinShmemSpace(MAXALIGN(sizeof(Shared)));
}

void shmem_startup() {
    if (prev_shmem_startup_hook)
        prev_shmem_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found;
    shared = static_cast<Shared *>(ShmemInitStruct("safe_column", sizeof(Shared), &found));
    if (!found) {
        memset(shared, 0, sizeof(Shared));
        SpinLockInit(&shared->mutex);
    }
    LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void shmem_install_hooks() {
#if SC_HAS_SHMEM_REQUEST_HOOK
    prev_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = shmem_request;
#else
    shmem_request();
#endif
    prev_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = shmem_startup;
}

bool shmem_ready() { return shared != nullptr; }

LiveJob *live_claim(Oid dboid, int64 job_id) {
    if (!shared)
        return nullptr;
    LiveJob *slot = nullptr;
    SpinLockAcquire(&shared->mutex);
    // The job's own slot first (left by a worker that died), else a free one.
    for (int i = 0; i < max_live_jobs && !slot; i++)
        if (shared->jobs[i].job_id == job_id && shared->jobs[i].dboid == dboid)
            slot = &shared->jobs[i];
    for (int i = 0; i < max_live_jobs && !slot; i++)
        if (shared->jobs[i].job_id == 0)
            slot = &shared->jobs[i];
    if (slot) {
        memset(slot, 0, sizeof(*slot));
        slot->dboid = dboid;
        slot->job_id = job_id;
        slot->pid = MyProcPid;
        slot->rows_per_sec = -1;
        slot->blocks_per_sec = -1;
    }
    SpinLockRelease(&shared->mutex);
    return slot;
}

void live_publish(LiveJob *slot, const LiveJob *values) {
    if (!shared || !slot)
        return;
    SpinLockAcquire(&shared->mutex);
    int64 id = slot->job_id;
    Oid dboid = slot->dboid;
    memcpy(slot, values, sizeof(*slot));
    slot->job_id = id;
    slot->dboid = dboid;
    slot->pid = MyProcPid;
    SpinLockRelease(&shared->mutex);
}

void live_release(LiveJob *slot) {
    if (!shared || !slot)
        return;
    SpinLockAcquire(&shared->mutex);
    if (slot->pid == MyProcPid)
        slot->job_id = 0;
    SpinLockRelease(&shared->mutex);
}

int live_snapshot(LiveJob *out, int max, Oid dboid) {
    if (!shared)
        return 0;
    int n = 0;
    SpinLockAcquire(&shared->mutex);
    for (int i = 0; i < max_live_jobs && n < max; i++)
        if (shared->jobs[i].job_id != 0 && shared->jobs[i].dboid == dboid)
            out[n++] = shared->jobs[i];
    SpinLockRelease(&shared->mutex);
    return n;
}

void launcher_set_latch(Latch *latch) {
    if (!shared)
        return;
    SpinLockAcquire(&shared->mutex);
    shared->launcher_latch = latch;
    SpinLockRelease(&shared->mutex);
}

void want_database(Oid dboid) {
    if (!shared)
        return;
    Latch *latch;
    SpinLockAcquire(&shared->mutex);
    bool present = false;
    for (int i = 0; i < shared->n_wanted; i++)
        present = present || shared->wanted[i] == dboid;
    if (!present && shared->n_wanted < max_wanted_dbs)
        shared->wanted[shared->n_wanted++] = dboid;
    latch = shared->launcher_latch;
    SpinLockRelease(&shared->mutex);
    if (latch)
        SetLatch(latch);
}

int take_wanted_databases(Oid *out, int max) {
    if (!shared)
        return 0;
    SpinLockAcquire(&shared->mutex);
    int n = shared->n_wanted < max ? shared->n_wanted : max;
    memcpy(out, shared->wanted, sizeof(Oid) * n);
    memmove(shared->wanted, shared->wanted + n, sizeof(Oid) * (shared->n_wanted - n));
    shared->n_wanted -= n;
    SpinLockRelease(&shared->mutex);
    return n;
}

void hold_database(Oid dboid) {
    if (!shared)
        return;
    SpinLockAcquire(&shared->mutex);
    int free_slot = -1;
    bool present = false;
    for (int i = 0; i < max_held_dbs; i++) {
        present = present || shared->held[i] == dboid;
        if (shared->held[i] == InvalidOid && free_slot < 0)
            free_slot = i;
    }
    if (!present)
        shared->held[free_slot >= 0 ? free_slot : static_cast<int>(dboid % max_held_dbs)] = dboid;
    SpinLockRelease(&shared->mutex);
}

void release_database(Oid dboid) {
    if (!shared)
        return;
    SpinLockAcquire(&shared->mutex);
    for (int i = 0; i < max_held_dbs; i++)
        if (shared->held[i] == dboid)
            shared->held[i] = InvalidOid;
    SpinLockRelease(&shared->mutex);
}

bool database_held(Oid dboid) {
    if (!shared)
        return false;
    bool held = false;
    SpinLockAcquire(&shared->mutex);
    for (int i = 0; i < max_held_dbs; i++)
        held = held || shared->held[i] == dboid;
    SpinLockRelease(&shared->mutex);
    return held;
}

}  // namespace sc::pg
