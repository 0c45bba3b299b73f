// Starting the workers: the launcher (with shared_preload_libraries), the per-database worker's main
// loop, and the start of a database's worker when a transaction that queued or resumed a job commits.
//
// A job that is queued or resumed asks, at commit, for its database's worker (a dynamic background
// worker; works without shared_preload_libraries), unless one runs. With the library preloaded, a
// launcher also starts a worker for every database at server start (after a crash too): each exits at
// once when its database has no unfinished job. One worker per database at a time: a session-level
// advisory lock decides. The worker runs its database's jobs one at a time (job_runner.cpp).
#include <csignal>
#include <cstring>
#include <exception>

#include "pg/job_row.hpp"
#include "pg/jobs.hpp"
#include "pg/job_runner.hpp"
#include "pg/shmem.hpp"
#include "pg/worker.hpp"
#include "pg/worker_session.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
}

#include "pg/compat.hpp"

namespace sc::pg {

namespace {

// Key of the session-level advisory lock that makes one worker per database.
constexpr int64 worker_lock_key = 0x5afec01a;

// ---------------------------------------------------------------------------------------------
// Starting a database's worker at commit

bool wake_at_commit = false;
int wake_nest_level = 0;
int interrupt_pid_at_commit = 0;  // a worker whose statement is to be cancelled once this transaction commits

// Whether a worker of this database is running: it holds the worker lock for as long as it looks for
// and runs jobs, and looks once more after letting go of it, so a job committed while the lock is held
// is always found. Tried without waiting and without raising an error (this runs after commit).
bool db_worker_running() {
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, static_cast<uint32>(worker_lock_key >> 32),
                         static_cast<uint32>(worker_lock_key), 1);
    if (compat::lock_held_by_me(&tag, ExclusiveLock))
        return false;  // this session took the lock itself (pg_advisory_lock): not a worker
    LockAcquireResult got = compat::lock_acquire_no_wait(&tag, ExclusiveLock, true);
    if (got == LOCKACQUIRE_NOT_AVAIL)
        return true;
    (void)LockRelease(&tag, ExclusiveLock, true);
    return false;
}

void xact_callback(XactEvent event, void *) {
    if (event == XACT_EVENT_COMMIT && interrupt_pid_at_commit != 0) {
        // The job's new state is visible now: the worker, its statement cancelled, finds it at once.
        (void)kill(interrupt_pid_at_commit, SIGINT);
        interrupt_pid_at_commit = 0;
    } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
        interrupt_pid_at_commit = 0;
    }
    if (event == XACT_EVENT_COMMIT && wake_at_commit) {
        wake_at_commit = false;
        // A running worker finds the job by itself: no new process for every resume of a running job
        // (a loop of them would fill max_worker_processes for the whole cluster).
        if (db_worker_running())
            return;
        // After commit nothing may raise an error: start_db_worker reports failure by its result.
        if (!start_db_worker(MyDatabaseId))
            want_database(MyDatabaseId);
    } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
        wake_at_commit = false;
    }
}

void subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB && wake_at_commit && GetCurrentTransactionNestLevel() <= wake_nest_level)
        wake_at_commit = false;
}

// ---------------------------------------------------------------------------------------------
// The worker's loop

bool try_worker_lock() {
    char *sql = psprintf("SELECT pg_catalog.pg_try_advisory_lock(" INT64_FORMAT ")", worker_lock_key);
    spi_exec(sql, SPI_OK_SELECT);
    bool isnull;
    return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

void release_worker_lock() {
    char *sql = psprintf("SELECT pg_catalog.pg_advisory_unlock(" INT64_FORMAT ")", worker_lock_key);
    spi_exec(sql, SPI_OK_SELECT);
}

// What the worker finds when it looks for work.
enum class Look { no_extension, other_worker, no_job, job };

Look look_for_work(bool *have_lock, int64 *job_id) {
    Look result;
    begin_txn("safe_column: looking for jobs");
    if (!extension_in_database()) {
        result = Look::no_extension;
    } else {
        if (!*have_lock)
            *have_lock = try_worker_lock();
        if (!*have_lock) {
            result = Look::other_worker;
        } else {
            *job_id = next_runnable_job();
            result = *job_id ? Look::job : Look::no_job;
        }
    }
    commit_txn();
    return result;
}

void worker_loop() {
    bool have_lock = false;
    for (;;) {
        exit_if_postmaster_died();
        int64 job_id = 0;
        Look look = look_for_work(&have_lock, &job_id);
        if (look == Look::no_extension || look == Look::other_worker)
            return;
        if (look == Look::no_job) {
            // Let go of the lock, then look once more: a job committed while we decided to stop would
            // otherwise find its new worker turned away by our lock.
            begin_txn("safe_column: leaving");
            release_worker_lock();
            commit_txn();
            have_lock = false;
            look = look_for_work(&have_lock, &job_id);
            if (look != Look::job)
                return;
        }
        run_job(job_id);
    }
}

}  // namespace

// The last line of defence of a background worker's main loop: every step's C++ is guarded where it
// runs (cpp_entry around each core call), so nothing should get here. If a C++ exception does, it may
// have left PG_TRY frames without their PG_END_TRY: the error stacks are put back as they were, and the
// worker exits with FATAL (exit code 1: the postmaster restarts it, the cluster stays up), never through
// std::terminate (SIGABRT: crash recovery of every database).
void worker_guard(const char *who, void (*loop)()) {
    sigjmp_buf *save_exception_stack = PG_exception_stack;
    ErrorContextCallback *save_context_stack = error_context_stack;
    char message[512] = "unknown C++ exception";
    bool caught = false;
    try {
        loop();
    } catch (const std::exception &e) {
        caught = true;
        strlcpy(message, e.what(), sizeof message);
    } catch (...) {
        caught = true;
    }
    if (caught) {
        PG_exception_stack = save_exception_stack;
        error_context_stack = save_context_stack;
        ereport(FATAL, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("%s: unexpected C++ exception: %s", who, message)));
    }
}

// ---------------------------------------------------------------------------------------------

void start_worker_at_commit() {
    if (!wake_at_commit || GetCurrentTransactionNestLevel() < wake_nest_level)
        wake_nest_level = GetCurrentTransactionNestLevel();
    wake_at_commit = true;
}

void interrupt_worker_at_commit(int pid) { interrupt_pid_at_commit = pid; }

void register_xact_callbacks() {
    RegisterXactCallback(xact_callback, nullptr);
    RegisterSubXactCallback(subxact_callback, nullptr);
}

bool start_db_worker(Oid dboid) {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof(worker));
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 2;  // after a crash or a SIGTERM, resume within seconds
    strlcpy(worker.bgw_library_name, "safe_column", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "safe_column_worker_main", BGW_MAXLEN);
    snprintf(worker.bgw_name, BGW_MAXLEN, "safe_column worker for database %u", dboid);
    strlcpy(worker.bgw_type, "safe_column worker", BGW_MAXLEN);
    worker.bgw_main_arg = ObjectIdGetDatum(dboid);
    worker.bgw_notify_pid = 0;
    return RegisterDynamicBackgroundWorker(&worker, nullptr);
}

void register_launcher() {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof(worker));
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 10;
    strlcpy(worker.bgw_library_name, "safe_column", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "safe_column_launcher_main", BGW_MAXLEN);
    strlcpy(worker.bgw_name, "safe_column launcher", BGW_MAXLEN);
    strlcpy(worker.bgw_type, "safe_column launcher", BGW_MAXLEN);
    RegisterBackgroundWorker(&worker);
}

}  // namespace sc::pg

extern "C" {

PGDLLEXPORT void safe_column_worker_main(Datum arg);
PGDLLEXPORT void safe_column_launcher_main(Datum arg);

void safe_column_worker_main(Datum arg) {
    Oid dboid = DatumGetObjectId(arg);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    // Its database is being dropped (or renamed): exit for good, not "database does not exist" every
    // few seconds. The session that holds it asks for a worker again if the database stays.
    if (sc::pg::database_held(dboid))
        proc_exit(0);
    BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
    // A database (or role) made read-only by default must not turn every start of the worker into an
    // error and a restart: a queued job was asked for by someone who could write.
    SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
    pgstat_report_appname("safe_column worker");
    // Batches and bookkeeping are short statements: compiling them would cost more than it saves.
    SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
    // The worker is a superuser: its own queries (bookkeeping, throttling signals, the throttle query)
    // must never resolve a name to an object a role planted in a schema of the default search_path
    // (an aggregate count(integer) in public would otherwise run as superuser).
    SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);

    sc::pg::worker_guard("safe_column worker", sc::pg::worker_loop);
    proc_exit(0);
}

// The launcher's work once connected: a worker for every database once at server start (a worker exits
// at once where there is no unfinished job), then retries of databases whose worker could not be
// registered when asked.
static void launcher_loop() {
    StartTransactionCommand();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        Form_pg_database db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tup));
        if (!db->datallowconn || db->datistemplate)
            continue;
        if (!sc::pg::start_db_worker(db->oid))
            sc::pg::want_database(db->oid);
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    CommitTransactionCommand();

    for (;;) {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        Oid wanted[sc::pg::max_wanted_dbs];
        int n = sc::pg::take_wanted_databases(wanted, sc::pg::max_wanted_dbs);
        for (int i = 0; i < n; i++)
            if (!sc::pg::start_db_worker(wanted[i]))
                sc::pg::want_database(wanted[i]);  // no free slot yet: try again in a second
    }
}

void safe_column_launcher_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    sc::pg::launcher_set_latch(MyLatch);
    sc::pg::worker_guard("safe_column launcher", launcher_loop);
}

}  // extern "C"
