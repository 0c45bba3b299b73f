// Module entry: PG_MODULE_MAGIC, _PG_init and the GUCs.
#include <climits>

#include "pg/pg_includes.hpp"
#include "pg/guc.hpp"
#include "pg/shmem.hpp"
#include "pg/worker.hpp"

extern "C" {
#include "utils/guc.h"
#include "miscadmin.h"
}

namespace sc::pg {
int lock_timeout_ms = 100;
int lock_wait_budget_ms = 30000;
}  // namespace sc::pg

extern "C" {

PG_MODULE_MAGIC;

void _PG_init(void);

void _PG_init(void) {
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
    DefineCustomBoolVariable(
        "safe_column.throttle", "Whether backfill workers pace themselves.",
        "Off disables every pause and pacing decision, for a maintenance window.", &sc::pg::throttle_enabled, true,
        PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.batch_target", "Target duration of one backfill batch.",
        "The batch size adapts so that each batch, one transaction holding its rows' locks, takes about this long.",
        &sc::pg::batch_target_ms, 100, 1, 10000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomRealVariable(
        "safe_column.batch_sleep_ratio", "Pause after each backfill batch, as a multiple of the batch's duration.",
        "0.5 means a worker spends at most two thirds of its time in batches. Ignored when safe_column.throttle is off.",
        &sc::pg::batch_sleep_ratio, 0.5, 0.0, 100.0, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("safe_column");

    sc::pg::register_xact_callbacks();
    if (process_shared_preload_libraries_in_progress) {
        sc::pg::shmem_install_hooks();
        sc::pg::register_launcher();
    }
}

}  // extern "C"
