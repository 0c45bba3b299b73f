#include <cstring>

#include "pg/kept_plans.hpp"

extern "C" {
#include "nodes/parsenodes.h"
#include "utils/memutils.h"
}

namespace sc::pg {

namespace {

struct KeptPlan {
    char *sql;  // in TopMemoryContext; NULL: a free slot
    SPIPlanPtr plan;
    uint64 used;  // kept_clock at the last use
};

constexpr int kKeptPlans = 16;
KeptPlan kept[kKeptPlans];
uint64 kept_clock = 0;

}  // namespace

SPIPlanPtr kept_plan(const char *sql, int nargs, Oid *types) {
    KeptPlan *victim = &kept[0];
    for (KeptPlan &k : kept) {
        if (k.sql != nullptr && strcmp(k.sql, sql) == 0) {
            k.used = ++kept_clock;
            return k.plan;
        }
        if (k.sql == nullptr ? victim->sql != nullptr : victim->sql != nullptr && k.used < victim->used)
            victim = &k;
    }
    SPIPlanPtr plan = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_GENERIC_PLAN);
    if (plan == nullptr)
        elog(ERROR, "SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
    char *key = MemoryContextStrdup(TopMemoryContext, sql);
    if (SPI_keepplan(plan) != 0)
        elog(ERROR, "SPI_keepplan failed: %s", sql);
    if (victim->sql != nullptr) {
        SPI_freeplan(victim->plan);
        pfree(victim->sql);
    }
    victim->sql = key;
    victim->plan = plan;
    victim->used = ++kept_clock;
    return plan;
}

int spi_run_kept(const char *sql, int nargs, Oid *types, Datum *values, bool read_only) {
    return SPI_execute_plan(kept_plan(sql, nargs, types), values, nullptr, read_only, 0);
}

}  // namespace sc::pg
