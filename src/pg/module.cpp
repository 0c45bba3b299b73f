// Module entry: PG_MODULE_MAGIC, _PG_init and the GUCs.
#include <climits>

#include "pg/pg_includes.hpp"
#include "pg/guc.hpp"
#include "pg/hook.hpp"
#include "pg/publications.hpp"
#include "pg/shmem.hpp"
#include "pg/signals.hpp"
#include "pg/worker.hpp"

extern "C" {
#include "utils/guc.h"
#include "miscadmin.h"
}

namespace sc::pg {
int lock_timeout_ms = 100;
int lock_wait_budget_ms = 30000;
}  // namespace sc::pg

namespace {

// Queue-safe locking (every lock safe_column takes).
void define_lock_gucs() {
    DefineCustomIntVariable(
        "safe_column.lock_timeout",
        "Longest time safe_column waits in the lock queue in one attempt.",
        "While safe_column waits for a lock, every session that asks for a conflicting lock after it waits "
        "too. After this time it leaves the queue, lets the application's queries through, and tries again.",
        &sc::pg::lock_timeout_ms, 100, 1, 60000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.lock_wait_budget",
        "Total time safe_column keeps trying to get a lock before it gives up.",
        "Attempts are separated by sleeps with jittered exponential backoff. 0 makes exactly one attempt.",
        &sc::pg::lock_wait_budget_ms, 30000, 0, INT_MAX, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
}

// The backfill's pace.
void define_backfill_gucs() {
    DefineCustomBoolVariable(
        "safe_column.throttle", "Whether backfill workers pace themselves.",
        "Off disables every pause and pacing decision, for a maintenance window.", &sc::pg::throttle_enabled, true,
        PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.batch_target", "Target duration of one backfill batch.",
        "The batch size adapts so that each batch, one transaction holding its rows' locks, takes about this long "
        "(at least 10 ms while safe_column.throttle is off).",
        &sc::pg::batch_target_ms, 1, 1, 10000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomRealVariable(
        "safe_column.batch_sleep_ratio", "Pause after each backfill batch, as a multiple of the batch's duration.",
        "0.5 means a worker spends at most two thirds of its time in batches. Ignored when safe_column.throttle is off.",
        &sc::pg::batch_sleep_ratio, 0.5, 0.0, 100.0, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.max_wal_rate", "WAL a backfill worker may write per second, on average.",
        "After each batch (and each of its VACUUMs) the worker pauses long enough to stay at or below this rate: "
        "the application's commits wait for the backfill's WAL to be flushed before their own. 0 disables. "
        "Ignored when safe_column.throttle is off.",
        &sc::pg::max_wal_rate_kb, 0, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_KB, nullptr, nullptr, nullptr);
}

// The throttling signals.
void define_throttle_gucs() {
    DefineCustomIntVariable(
        "safe_column.checkpoint_min_interval",
        "Minimum time between two checkpoints a backfill may cause.",
        "A backfill writes WAL at the pace that fills the distance forcing a checkpoint (about max_wal_size / "
        "(1 + checkpoint_completion_target)) in this time, and waits whenever the WAL since the last checkpoint, "
        "everybody's, is ahead of that pace. -1: checkpoint_warning plus 10 % (33 s at the defaults). 0 disables.",
        &sc::pg::checkpoint_min_interval_setting_s, -1, -1, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr,
        nullptr);
    DefineCustomRealVariable(
        "safe_column.checkpoint_wal_share",
        "Share of the WAL distance that forces a checkpoint a backfill may fill before it waits.",
        "WAL written since the last checkpoint's redo point, against CheckPointSegments segments (about "
        "max_wal_size / (1 + checkpoint_completion_target)). Below 1, a backfill never forces a checkpoint, and "
        "waits for the next timed one. 0 (the default) disables: the pace of safe_column.checkpoint_min_interval "
        "alone applies.",
        &sc::pg::checkpoint_wal_share, 0.0, 0.0, 10.0, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable(
        "safe_column.wait_for_checkpoint", "Whether a backfill waits while a checkpoint is being written.", nullptr,
        &sc::pg::wait_for_checkpoint, false, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.max_replica_lag", "Replay lag of a streaming standby above which a backfill waits.",
        "It goes on once the lag is down to half. 0 disables.", &sc::pg::max_replica_lag_kb, 64 * 1024, 0, INT_MAX,
        PGC_SIGHUP, GUC_UNIT_KB, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.max_replica_lag_time", "Replay lag time of a streaming standby above which a backfill waits.",
        "0 disables.", &sc::pg::max_replica_lag_ms, 0, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.max_slot_lag", "WAL an active replication slot still needs above which a backfill waits.",
        "Logical slots included; inactive slots are ignored. 0 disables.", &sc::pg::max_slot_lag_kb, 1024 * 1024, 0,
        INT_MAX, PGC_SIGHUP, GUC_UNIT_KB, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.max_active_backends", "Backends running a query above which a backfill waits.", "0 disables.",
        &sc::pg::max_active_backends, 0, 0, INT_MAX, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable(
        "safe_column.yield_to_lock_waiters",
        "Whether a backfill pauses when sessions wait for a lock that its batch holds on the table.", nullptr,
        &sc::pg::yield_to_lock_waiters, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "safe_column.throttle_query", "A query returning one boolean: true makes backfills wait.",
        "Run by the worker (a superuser) before each batch, with statement_timeout safe_column.throttle_query_timeout; only a superuser can set it.",
        &sc::pg::throttle_query, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.throttle_query_timeout", "statement_timeout of safe_column.throttle_query.", nullptr,
        &sc::pg::throttle_query_timeout_ms, 1000, 1, 60000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomRealVariable(
        "safe_column.critical_factor", "A signal this many times its limit, for safe_column.critical_duration, pauses the job.",
        "The job then waits in state paused for a human to resume it. 0 disables.", &sc::pg::critical_factor, 4.0,
        0.0, 1000.0, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.critical_duration", "How long a signal must stay critical before the job is paused.", nullptr,
        &sc::pg::critical_duration_ms, 60000, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.sample_interval",
        "How often a backfill worker reads the throttling signals that cost queries.",
        "Standby and slot lag, active backends, lock waiters and the throttle query are read at most once per "
        "interval and reused in between (a lag in bytes grows by the WAL written since). The checkpoint signals "
        "are read before every step. 0 reads everything before every step.",
        &sc::pg::sample_interval_ms, 1000, 0, 60000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
}

// What bounds one job's hold on its database's worker, and the test hook of its C++ guard.
void define_worker_gucs() {
    DefineCustomIntVariable(
        "safe_column.batch_timeout", "Longest time one statement of a job's own SQL may run in the worker.",
        "A batch (or the search for the row that failed one) that runs longer is cancelled and fails the job: an "
        "expression that sleeps cannot hold the database's worker, and the jobs queued behind it. 0 disables.",
        &sc::pg::batch_timeout_ms, 60000, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.max_retries", "Retries of a step after a lock timeout, deadlock, serialization failure or cancel.",
        "Consecutive retries of one step (with a growing nap, 0.1 to 1 s); one more such error fails the job, "
        "which can be resumed. 0 fails at the first.",
        &sc::pg::max_retries, 100, 0, 100000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "safe_column.debug_inject_fault", "For tests: throw std::bad_alloc at this point of the worker's C++ code.",
        "One of fill_batch, ddl, throttle; empty disables.", &sc::pg::debug_inject_fault, "", PGC_SUSET,
        GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
}

const struct config_enum_entry publication_check_options[] = {
    {"off", static_cast<int>(sc::pg::PublicationCheck::off), false},
    {"warn", static_cast<int>(sc::pg::PublicationCheck::warn), false},
    {"refuse", static_cast<int>(sc::pg::PublicationCheck::refuse), false},
    {nullptr, 0, false},
};

// What adding a column to a table published with all its columns does.
void define_publication_guc() {
    DefineCustomEnumVariable(
        "safe_column.publication_check",
        "What safe_add_column and the hook's ADD COLUMN do when the table is published with all its columns.",
        "warn: a WARNING naming the publications and the logical slots (a subscriber whose table lacks the column "
        "stops applying changes until it is added there). refuse: an ERROR instead. off: nothing.",
        &sc::pg::publication_check, static_cast<int>(sc::pg::PublicationCheck::warn), publication_check_options,
        PGC_USERSET, 0, nullptr, nullptr, nullptr);
}

}  // namespace

extern "C" {

PG_MODULE_MAGIC;

void _PG_init(void);

void _PG_init(void) {
    define_lock_gucs();
    define_backfill_gucs();
    define_throttle_gucs();
    define_worker_gucs();
    define_publication_guc();
    sc::pg::hook_init();
    MarkGUCPrefixReserved("safe_column");

    sc::pg::register_xact_callbacks();
    if (process_shared_preload_libraries_in_progress) {
        sc::pg::shmem_install_hooks();
        sc::pg::register_launcher();
    }
}

}  // extern "C"
