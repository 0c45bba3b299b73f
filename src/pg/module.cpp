// Module entry: PG_MODULE_MAGIC, _PG_init and the GUCs.
#include <climits>

#include "pg/pg_includes.hpp"
#include "pg/guc.hpp"

extern "C" {
#include "utils/guc.h"
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
    MarkGUCPrefixReserved("safe_column");
}

}  // extern "C"
