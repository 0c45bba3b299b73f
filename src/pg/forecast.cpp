#include "pg/forecast.hpp"
#include "pg/guard.hpp"
#include "pg/signals.hpp"
#include "pg/worker.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xlog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "optimizer/plancat.h"
#include "postmaster/bgwriter.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "executor/spi.h"
}

namespace sc::pg {

namespace {

// One heap's size, indexes and rows: measured (the planner's own estimate of its rows, from its
// blocks now) when its lock comes at once, else pg_class's figures.
void add_part(Oid part, sc::ForecastInputs *in) {
    if (ConditionalLockRelationOid(part, AccessShareLock)) {
        Relation rel = try_relation_open(part, NoLock);
        if (rel != nullptr) {
            BlockNumber pages;
            double tuples, allvisfrac;
            estimate_rel_size(rel, nullptr, &pages, &tuples, &allvisfrac);
            in->heap_bytes += static_cast<double>(pages) * BLCKSZ;
            in->rows += tuples;
            in->index_bytes += static_cast<double>(DatumGetInt64(DirectFunctionCall1(pg_indexes_size, ObjectIdGetDatum(part))));
            relation_close(rel, NoLock);
        }
        UnlockRelationOid(part, AccessShareLock);
        return;
    }
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(part));
    if (HeapTupleIsValid(tup)) {
        auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
        in->heap_bytes += static_cast<double>(form->relpages) * BLCKSZ;
        in->rows += form->reltuples > 0 ? form->reltuples : 0;
        ReleaseSysCache(tup);
    }
}

// The streaming standbys attached now and the logical slots active now (a logical subscriber's walsender
// shows in pg_stat_replication too: it counts as a slot, as the throttling signals count it). Both
// views show these rows to every role.
void count_replication(sc::ForecastInputs *in) {
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    static const char *query =
        "SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_replication r"
        "         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_replication_slots s"
        "                            WHERE s.active_pid OPERATOR(pg_catalog.=) r.pid"
        "                              AND s.slot_type OPERATOR(pg_catalog.=) 'logical'))::pg_catalog.int4,"
        "       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_replication_slots"
        "         WHERE active AND slot_type OPERATOR(pg_catalog.=) 'logical')::pg_catalog.int4";
    int rc = SPI_execute(query, true, 1);
    if (rc != SPI_OK_SELECT || SPI_processed != 1)
        elog(ERROR, "could not count the standbys: %s", SPI_result_code_string(rc));
    bool isnull;
    in->standbys = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    in->logical_slots = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    SPI_finish();
}

}  // namespace

sc::ForecastInputs backfill_forecast_inputs(Oid relid, Oid typid) {
    sc::ForecastInputs in;
    List *parts = find_all_inheritors(relid, NoLock, nullptr);
    ListCell *lc;
    foreach (lc, parts) {
        Oid part = lfirst_oid(lc);
        if (get_rel_relkind(part) == RELKIND_RELATION)
            add_part(part, &in);
    }
    int16 typlen = OidIsValid(typid) ? get_typlen(typid) : -1;
    in.value_width = typlen > 0 ? typlen : 32;
    in.throttle = throttle_enabled;
    in.sleep_ratio = batch_sleep_ratio;
    in.max_wal_rate = max_wal_rate_kb * 1024.0;
    CheckpointPace pace = checkpoint_pace();
    in.pace_rate = pace.rate;
    in.pace_interval_s = pace.interval_s;
    in.max_wal_size_mb = max_wal_size_mb;
    in.completion_target = CheckPointCompletionTarget;
    in.segment_bytes = wal_segment_size;
    in.max_replica_lag_bytes = max_replica_lag_kb * 1024.0;
    in.max_replica_lag_s = max_replica_lag_ms / 1000.0;
    in.max_slot_lag_bytes = max_slot_lag_kb * 1024.0;
    if (throttle_enabled)
        count_replication(&in);
    return in;
}

char *backfill_forecast_text(const sc::ForecastInputs &in, double *seconds) {
    return cpp_entry("safe_column", [&] {
        sc::Forecast f = sc::forecast_backfill(in);
        std::string text = sc::forecast_text(f, in);
        *seconds = f.seconds;
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

}  // namespace sc::pg
