#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/checkpoint_pace.hpp"
#include "pg/signals.hpp"
#include "pg/subxact.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "executor/spi.h"
#include "catalog/pg_type.h"
#include "postmaster/bgwriter.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/timeout.h"
}

namespace sc::pg {

double checkpoint_wal_share = 0;
int checkpoint_min_interval_setting_s = -1;
bool wait_for_checkpoint = false;
int max_replica_lag_kb = 64 * 1024;
int max_replica_lag_ms = 0;
int max_slot_lag_kb = 1024 * 1024;
int max_active_backends = 0;
bool yield_to_lock_waiters = true;
char *throttle_query = nullptr;
int throttle_query_timeout_ms = 1000;
double critical_factor = 4.0;
int critical_duration_ms = 60000;
int sample_interval_ms = 1000;

namespace {

sc::SignalReading reading(sc::SignalKind kind, bool enabled, double value, double limit) {
    sc::SignalReading r;
    r.kind = kind;
    r.enabled = enabled;
    r.value = value;
    r.limit = limit;
    r.resume_below = limit * 0.5;  // go on once it is down to half the limit
    r.critical = critical_factor > 1.0 ? limit * critical_factor : 0;
    return r;
}

struct QueryResult {
    bool hold;
};

void throttle_query_body(void *arg) {
    auto *out = static_cast<QueryResult *>(arg);
    // statement_timeout is armed only for statements a client sends, never for SPI in a background
    // worker: arm the timer itself, and always disarm it, or a hanging query would hold the worker.
    volatile int rc = 0;
    enable_timeout_after(STATEMENT_TIMEOUT, throttle_query_timeout_ms);
    PG_TRY();
    {
        rc = SPI_execute(throttle_query, true, 1);
    }
    PG_FINALLY();
    {
        disable_timeout(STATEMENT_TIMEOUT, false);
    }
    PG_END_TRY();
    if (rc != SPI_OK_SELECT || SPI_processed != 1 || SPI_tuptable->tupdesc->natts != 1 ||
        SPI_gettypeid(SPI_tuptable->tupdesc, 1) != BOOLOID)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("safe_column.throttle_query must return one boolean")));
    bool isnull;
    Datum v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    out->hold = !isnull && DatumGetBool(v);
}

// The DBA's throttle query, in a subtransaction: when it fails (a typo, its statement_timeout), the
// backfill holds, with the error as the reason, rather than the job failing.
bool run_throttle_query(const char **label) {
    QueryResult result{false};
    ErrorData *edata = run_in_subtransaction(throttle_query_body, &result);
    if (edata == nullptr)
        return result.hold;
    *label = psprintf("failed: %s", edata->message);
    FreeErrorData(edata);
    return true;
}

// The largest value of column col (float8) of the last SPI result, with column 1 as its label.
bool worst_of(int col, double *value, const char **label) {
    bool found = false;
    for (uint64 i = 0; i < SPI_processed; i++) {
        bool isnull;
        Datum v = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, col, &isnull);
        if (isnull)
            continue;
        double d = DatumGetFloat8(v);
        if (!found || d > *value) {
            *value = d;
            char *l = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
            *label = l ? l : "";
            found = true;
        }
    }
    return found;
}

void spi_select(const char *sql) {
    int rc = SPI_execute(sql, true, 0);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
}

// Read the wanted expensive signals into the cache (a sample begun): one SPI query each, the standbys'
// two in one.
void read_expensive_signals(sc::SignalCache *cache, sc::SignalMask wanted, Oid relid) {
    double value = 0;
    const char *label = "";
    // Streaming standbys. A logical subscriber that reports an apply position shows in
    // pg_stat_replication too, but it is not a standby: its walsender holds an active logical slot,
    // and the slot signal (safe_column.max_slot_lag) counts it, from what it confirmed.
    sc::SignalMask replica = sc::signal_bit(sc::SignalKind::replica_lag_bytes) |
                             sc::signal_bit(sc::SignalKind::replica_lag_seconds);
    if ((wanted & replica) != 0) {
        spi_select("SELECT r.application_name,"
                   "       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.replay_lsn)::float8,"
                   "       extract(epoch FROM r.replay_lag)::float8"
                   "  FROM pg_catalog.pg_stat_replication r"
                   " WHERE (r.replay_lsn IS NOT NULL OR r.replay_lag IS NOT NULL)"
                   "   AND NOT EXISTS (SELECT FROM pg_catalog.pg_replication_slots s"
                   "                    WHERE s.active_pid = r.pid AND s.slot_type = 'logical')");
        if ((wanted & sc::signal_bit(sc::SignalKind::replica_lag_bytes)) != 0 && worst_of(2, &value, &label))
            cache->put(sc::SignalKind::replica_lag_bytes, value, label);
        if ((wanted & sc::signal_bit(sc::SignalKind::replica_lag_seconds)) != 0 && worst_of(3, &value, &label))
            cache->put(sc::SignalKind::replica_lag_seconds, value, label);
    }
    // Only active slots: a forgotten inactive slot would otherwise stall every backfill for ever.
    if ((wanted & sc::signal_bit(sc::SignalKind::slot_lag_bytes)) != 0) {
        spi_select("SELECT slot_name, pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),"
                   "       coalesce(confirmed_flush_lsn, restart_lsn))::float8"
                   "  FROM pg_catalog.pg_replication_slots WHERE active");
        if (worst_of(2, &value, &label))
            cache->put(sc::SignalKind::slot_lag_bytes, value, label);
    }
    if ((wanted & sc::signal_bit(sc::SignalKind::active_backends)) != 0) {
        spi_select("SELECT '', count(*)::float8 FROM pg_catalog.pg_stat_activity"
                   " WHERE state = 'active' AND backend_type = 'client backend'"
                   "   AND pid <> pg_catalog.pg_backend_pid()");
        if (worst_of(2, &value, &label))
            cache->put(sc::SignalKind::active_backends, value, label);
    }
    // Sessions waiting for a lock on the table (a DDL, a LOCK TABLE): let them through first.
    if ((wanted & sc::signal_bit(sc::SignalKind::lock_waiters)) != 0) {
        Oid types[1] = {OIDOID};
        Datum values[1] = {ObjectIdGetDatum(relid)};
        int rc = SPI_execute_with_args(
            "SELECT count(DISTINCT pid)::float8 FROM pg_catalog.pg_locks"
            " WHERE NOT granted AND locktype = 'relation' AND relation = $1"
            "   AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())",
            1, types, values, nullptr, true, 1);
        if (rc != SPI_OK_SELECT)
            elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
        bool isnull;
        double waiters = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        cache->put(sc::SignalKind::lock_waiters, waiters, "");
    }
    if ((wanted & sc::signal_bit(sc::SignalKind::throttle_query)) != 0) {
        const char *qlabel = "";
        bool hold = run_throttle_query(&qlabel);
        cache->put(sc::SignalKind::throttle_query, hold ? 1 : 0, qlabel);
    }
}

}  // namespace

namespace {

// WAL since the redo point of the last checkpoint, and the distance after which the server forces one:
// XLogCheckpointNeeded() requests it once WAL reaches segment redo_segno + CheckPointSegments - 1.
struct CheckpointDistance {
    double since_redo;
    double distance;  // 0: at or past it
};

CheckpointDistance checkpoint_distance() {
    XLogRecPtr redo = GetRedoRecPtr();
    uint64 redo_segno = redo / static_cast<uint64>(wal_segment_size);
    uint64 trigger_segs = CheckPointSegments > 1 ? static_cast<uint64>(CheckPointSegments - 1) : 1;
    XLogRecPtr trigger = (redo_segno + trigger_segs) * static_cast<uint64>(wal_segment_size);
    return {static_cast<double>(GetXLogInsertRecPtr() - redo),
            trigger > redo ? static_cast<double>(trigger - redo) : 0};
}

// When the checkpoint whose redo point is the current one started. Read from pg_control once that
// checkpoint completed; while it is being written (pg_control still shows the previous one), the time the
// worker first saw its redo point, which is no earlier than its start (the pace errs on the calm side).
TimestampTz checkpoint_started_at() {
    static XLogRecPtr seen_redo = InvalidXLogRecPtr;
    static TimestampTz started = 0;
    XLogRecPtr redo = GetRedoRecPtr();
    if (redo != seen_redo || started == 0) {
        bool crc_ok;
        ControlFileData *control = get_controlfile(DataDir, &crc_ok);
        started = crc_ok && control->checkPointCopy.redo == redo
                      ? time_t_to_timestamptz(static_cast<pg_time_t>(control->checkPointCopy.time))
                      : GetCurrentTimestamp();
        pfree(control);
        seen_redo = redo;
    }
    return started;
}

}  // namespace

CheckpointBudget checkpoint_wal_budget() { return checkpoint_wal_budget(checkpoint_wal_share); }

CheckpointBudget checkpoint_wal_budget(double share) {
    if (!(share > 0))
        return {-1, 0};
    CheckpointDistance d = checkpoint_distance();
    double whole = share * d.distance;
    return {std::max(0.0, whole - d.since_redo), whole};
}

CheckpointPace checkpoint_pace() {
    CheckpointPace pace{};
    pace.interval_s = sc::checkpoint_min_interval_s(checkpoint_min_interval_setting_s, CheckPointWarning);
    CheckpointDistance d = checkpoint_distance();
    // The rate from the whole distance (CheckPointSegments - 1 segments); the line from this cycle's,
    // which ends at a segment boundary and so can be shorter.
    double nominal = static_cast<double>(CheckPointSegments > 1 ? CheckPointSegments - 1 : 1) * wal_segment_size;
    pace.rate = sc::checkpoint_pace_rate(nominal, pace.interval_s);
    pace.cycle.since_redo = d.since_redo;
    pace.cycle.distance = d.distance;
    if (pace.rate > 0) {
        long secs;
        int usecs;
        TimestampDifference(checkpoint_started_at(), GetCurrentTimestamp(), &secs, &usecs);
        pace.cycle.elapsed_s = static_cast<double>(secs) + usecs / 1e6;
    }
    return pace;
}

CheckpointBudget checkpoint_pace_budget() {
    CheckpointPace pace = checkpoint_pace();
    if (!(pace.rate > 0))
        return {-1, 0};
    double whole = pace.rate * pace.interval_s;
    double left = sc::checkpoint_pace_allowance(pace.cycle, pace.interval_s);
    double room = std::max(0.0, pace.cycle.distance - pace.cycle.since_redo);
    return {std::isfinite(left) ? std::min(left, whole) : whole, whole, room};
}

namespace {

// The WAL since the last checkpoint's redo point, as a share of the distance that forces one, under
// the pace line (the share the cycle's time so far allows: a checkpoint the backfill causes comes no
// sooner than safe_column.checkpoint_min_interval; no hysteresis, the line rises by itself) and, if
// set, under safe_column.checkpoint_wal_share (below 1: never force one; the batches are sized to fit
// what is left: checkpoint_wal_budget()).
sc::SignalReading checkpoint_wal_reading() {
    CheckpointPace pace = checkpoint_pace();
    const sc::CheckpointCycle &c = pace.cycle;
    double line = pace.rate > 0 ? sc::checkpoint_pace_line(c.elapsed_s, pace.interval_s) : HUGE_VAL;
    bool by_share = checkpoint_wal_share > 0 && checkpoint_wal_share <= line;
    double limit = by_share ? checkpoint_wal_share : line;
    sc::SignalReading wal = reading(sc::SignalKind::checkpoint_wal, c.distance > 0 && (by_share || line < 1.0),
                                    c.distance > 0 ? c.since_redo / c.distance : 0, limit);
    if (!by_share) {
        wal.resume_below = limit;
        wal.label = "pace";
    }
    wal.critical = 0;  // the server's own checkpoint resolves it: never worth a pause
    return wal;
}

}  // namespace

int sample_signals(sc::SignalReading *readings, Oid relid, sc::SignalCache *cache, double now_s, bool *sampled) {
    int n = 0;

    readings[n++] = checkpoint_wal_reading();

    // A checkpoint is being written when the redo pointer moved past the last completed one's.
    if (wait_for_checkpoint) {
        bool crc_ok;
        ControlFileData *control = get_controlfile(DataDir, &crc_ok);
        bool running = crc_ok && GetRedoRecPtr() > control->checkPointCopy.redo;
        readings[n++] = reading(sc::SignalKind::checkpoint_running, true, running ? 1 : 0, 0);
        readings[n - 1].critical = 0;
    }

    // The expensive signals: read at most once per safe_column.sample_interval, reused in between.
    sc::SignalMask wanted = 0;
    if (max_replica_lag_kb > 0)
        wanted |= sc::signal_bit(sc::SignalKind::replica_lag_bytes);
    if (max_replica_lag_ms > 0)
        wanted |= sc::signal_bit(sc::SignalKind::replica_lag_seconds);
    if (max_slot_lag_kb > 0)
        wanted |= sc::signal_bit(sc::SignalKind::slot_lag_bytes);
    if (max_active_backends > 0)
        wanted |= sc::signal_bit(sc::SignalKind::active_backends);
    if (yield_to_lock_waiters)
        wanted |= sc::signal_bit(sc::SignalKind::lock_waiters);
    if (throttle_query != nullptr && throttle_query[0] != '\0')
        wanted |= sc::signal_bit(sc::SignalKind::throttle_query);
    std::uint64_t query_key = sc::text_key(throttle_query);
    *sampled = cache->due(now_s, sample_interval_ms / 1000.0, wanted, query_key);
    if (*sampled) {
        // The lags are measured from the end of WAL as pg_current_wal_lsn() shows it (written WAL),
        // read here just before the queries.
        cache->begin(now_s, wanted, query_key, GetXLogWriteRecPtr());
        read_expensive_signals(cache, wanted, relid);
        cache->finish();
    }
    // Between samples they grow by at most the WAL inserted since: batches commit asynchronously, and
    // their WAL, not yet written, will be.
    std::uint64_t wal_now = GetXLogInsertRecPtr();

    struct Limit {
        sc::SignalKind kind;
        double limit;
        bool may_be_critical;
    };
    const Limit limits[] = {
        {sc::SignalKind::replica_lag_bytes, max_replica_lag_kb * 1024.0, true},
        {sc::SignalKind::replica_lag_seconds, max_replica_lag_ms / 1000.0, true},
        {sc::SignalKind::slot_lag_bytes, max_slot_lag_kb * 1024.0, true},
        {sc::SignalKind::active_backends, static_cast<double>(max_active_backends), true},
        {sc::SignalKind::lock_waiters, 0, false},
        {sc::SignalKind::throttle_query, 0, false},
    };
    for (const Limit &l : limits) {
        double value;
        const char *label;
        if ((wanted & sc::signal_bit(l.kind)) == 0 || !cache->get(l.kind, wal_now, &value, &label))
            continue;
        readings[n] = reading(l.kind, true, value, l.limit);
        if (!l.may_be_critical)
            readings[n].critical = 0;  // they resolve themselves: never worth a pause
        readings[n++].label = label;
    }
    return n;
}

}  // namespace sc::pg
