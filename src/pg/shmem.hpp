// Shared memory: live progress of running jobs, and databases waiting for a worker.
// Exists only when safe_column is in shared_preload_libraries; every function copes without it.
#pragma once

#include "pg/pg_includes.hpp"

extern "C" {
#include "datatype/timestamp.h"
#include "storage/latch.h"
}

namespace sc::pg {

constexpr int max_live_jobs = 64;
constexpr int max_wanted_dbs = 64;

// Job ids are per database: a slot is the job's in its database (dboid, job_id).
struct LiveJob {
    Oid dboid;
    int64 job_id;  // 0: free slot
    int pid;
    char phase[32];
    int64 blocks_done;
    int64 blocks_total;
    int32 batch_blocks;
    int64 batch_rows;
    double last_batch_ms;
    double rows_per_sec;    // negative: unknown
    double blocks_per_sec;  // negative: unknown
    bool throttled;
    char throttle_reason[192];
    double sample_ms;       // what sampling the throttling signals cost before the last step
    TimestampTz updated_at;
};

void shmem_install_hooks();  // from _PG_init while preloading
bool shmem_ready();

// The worker's slot for its current job (claimed, updated, released by the worker only).
LiveJob *live_claim(Oid dboid, int64 job_id);
void live_publish(LiveJob *slot, const LiveJob *values);
void live_release(LiveJob *slot);
// Copies of the used slots of database dboid; returns how many.
int live_snapshot(LiveJob *out, int max, Oid dboid);

// The launcher: where it sleeps, and databases whose worker could not be registered at once.
void launcher_set_latch(Latch *latch);
void want_database(Oid dboid);
int take_wanted_databases(Oid *out, int max);

// Databases being dropped or renamed by some session: their worker must not reconnect meanwhile (a
// worker that finds its database held exits for good instead of failing to connect every few seconds).
constexpr int max_held_dbs = 16;
void hold_database(Oid dboid);
void release_database(Oid dboid);
bool database_held(Oid dboid);

}  // namespace sc::pg
