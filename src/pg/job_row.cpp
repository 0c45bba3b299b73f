#include <cstring>

#include "pg/job_row.hpp"
#include "pg/jobs.hpp"
#include "pg/worker_session.hpp"

extern "C" {
#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace sc::pg {

char *store_table() { return extension_table("safe_column_job_store"); }
char *part_table() { return extension_table("safe_column_job_part"); }

void notify(int64 job_id) { notify_job(job_id, store_table()); }

bool load_job(int64 job_id, Job *job) {
    char *sql = psprintf(
        "SELECT relid, attnum, created_by, not_null, new_rows_get_value, fill_expr, constraint_name, phase,"
        "       sweep_passes, pass_rows, state"
        "  FROM %s WHERE job_id = $1 FOR UPDATE",
        store_table());
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(job_id)};
    spi_exec_args(sql, 1, types, values, SPI_OK_SELECT);
    if (SPI_processed != 1)
        return false;
    HeapTuple tup = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool isnull;
    job->id = job_id;
    job->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
    job->attnum = DatumGetInt16(SPI_getbinval(tup, desc, 2, &isnull));
    job->creator = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
    job->not_null = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
    job->new_rows_get_value = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
    job->fill_expr = SPI_getvalue(tup, desc, 6);
    job->constraint_name = SPI_getvalue(tup, desc, 7);
    char *phase = SPI_getvalue(tup, desc, 8);
    job->phase = sc::JobPhase::done;
    {
        sc::JobPhase p;
        if (phase != nullptr && sc::phase_from_name(phase, &p))
            job->phase = p;
    }
    job->sweep_passes = DatumGetInt32(SPI_getbinval(tup, desc, 9, &isnull));
    job->pass_rows = DatumGetInt64(SPI_getbinval(tup, desc, 10, &isnull));
    job->state = SPI_getvalue(tup, desc, 11);
    return true;
}

void keep_job(Job *job, MemoryContext cxt) {
    MemoryContext old = MemoryContextSwitchTo(cxt);
    job->fill_expr = job->fill_expr ? pstrdup(job->fill_expr) : nullptr;
    job->constraint_name = job->constraint_name ? pstrdup(job->constraint_name) : nullptr;
    job->state = pstrdup(job->state);
    MemoryContextSwitchTo(old);
}

void set_phase(Job *job, sc::JobPhase phase) {
    const char *state = sc::state_for_phase(phase);
    char *sql = psprintf(
        "UPDATE %s SET phase = $2, state = $3,"
        "       finished_at = CASE WHEN $3 = 'complete' THEN pg_catalog.clock_timestamp() END"
        " WHERE job_id = $1",
        store_table());
    Oid types[3] = {INT8OID, TEXTOID, TEXTOID};
    Datum values[3] = {Int64GetDatum(job->id), CStringGetTextDatum(sc::phase_name(phase)),
                       CStringGetTextDatum(state)};
    spi_exec_args(sql, 3, types, values, SPI_OK_UPDATE);
    bool state_changed = strcmp(state, job->state) != 0;
    job->phase = phase;
    if (state_changed)
        notify(job->id);
}

namespace {

// A part's size now, in blocks (0 when the table is gone).
BlockNumber part_blocks(Oid relid) {
    if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
        return 0;
    Relation rel = table_open(relid, AccessShareLock);
    BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
    table_close(rel, NoLock);
    return nblocks;
}

void set_part_size(const Job *job, Oid relid, BlockNumber nblocks) {
    char *upd = psprintf("UPDATE %s SET next_block = 0, end_block = $3, done = $3 = 0 WHERE job_id = $1 AND relid OPERATOR(pg_catalog.=) $2",
                         part_table());
    Oid t[3] = {INT8OID, OIDOID, INT8OID};
    Datum v[3] = {Int64GetDatum(job->id), ObjectIdGetDatum(relid), Int64GetDatum(static_cast<int64>(nblocks))};
    spi_exec_args(upd, 3, t, v, SPI_OK_UPDATE);
}

}  // namespace

void reset_parts(const Job *job, int passes) {
    char *sql = psprintf("SELECT relid FROM %s WHERE job_id = $1", part_table());
    Oid types[2] = {INT8OID, INT4OID};
    Datum values[2] = {Int64GetDatum(job->id), Int32GetDatum(passes)};
    spi_exec_args(sql, 1, types, values, SPI_OK_SELECT);
    int n = static_cast<int>(SPI_processed);
    Oid *parts = static_cast<Oid *>(palloc(sizeof(Oid) * (n + 1)));
    for (int i = 0; i < n; i++) {
        bool isnull;
        parts[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
    }
    for (int i = 0; i < n; i++)
        set_part_size(job, parts[i], part_blocks(parts[i]));
    char *job_sql = psprintf("UPDATE %s SET sweep_passes = $2, pass_rows = 0 WHERE job_id = $1", store_table());
    spi_exec_args(job_sql, 2, types, values, SPI_OK_UPDATE);
}

// The first part not done. A part restored from a dump has no size yet (end_block 0, not done:
// restored_jobs.cpp): it is measured now, and skipped when empty.
bool next_part(const Job *job, PartCursor *out) {
    char *sql = psprintf(
        "SELECT relid, next_block, end_block FROM %s WHERE job_id = $1 AND NOT done ORDER BY relid LIMIT 1",
        part_table());
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(job->id)};
    for (;;) {
        spi_exec_args(sql, 1, types, values, SPI_OK_SELECT);
        if (SPI_processed == 0)
            return false;
        bool isnull;
        HeapTuple tup = SPI_tuptable->vals[0];
        out->relid = DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
        out->next_block = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
        out->end_block = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));
        if (out->end_block > 0)
            return true;
        BlockNumber nblocks = part_blocks(out->relid);
        set_part_size(job, out->relid, nblocks);
        if (nblocks > 0) {
            out->next_block = 0;
            out->end_block = static_cast<int64>(nblocks);
            return true;
        }
    }
}

void set_started(int64 job_id) {
    char *sql = psprintf("UPDATE %s SET started_at = coalesce(started_at, pg_catalog.clock_timestamp())"
                         " WHERE job_id = $1",
                         store_table());
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(job_id)};
    spi_exec_args(sql, 1, types, values, SPI_OK_UPDATE);
}

// Record the time napped on throttling signals in the job (in the current transaction).
void record_throttled(int64 job_id, const double *ms_by_signal) {
    for (int k = 0; k < sc::signal_count; k++) {
        double ms = ms_by_signal[k];
        if (ms <= 0)
            continue;
        char *sql = psprintf(
            "UPDATE %s SET throttled_ms = throttled_ms + $2,"
            "       throttle_stats = throttle_stats || pg_catalog.jsonb_build_object($3::text,"
            "                        coalesce((throttle_stats ->> $3::text)::float8, 0) + $2)"
            " WHERE job_id = $1",
            store_table());
        Oid types[3] = {INT8OID, FLOAT8OID, TEXTOID};
        Datum values[3] = {Int64GetDatum(job_id), Float8GetDatum(ms),
                           CStringGetTextDatum(sc::signal_name(static_cast<sc::SignalKind>(k)))};
        spi_exec_args(sql, 3, types, values, SPI_OK_UPDATE);
    }
}

void pause_job(int64 job_id, const char *reason) {
    char *sql = psprintf("UPDATE %s SET state = 'paused', pause_reason = $2 WHERE job_id = $1", store_table());
    Oid types[2] = {INT8OID, TEXTOID};
    Datum values[2] = {Int64GetDatum(job_id), CStringGetTextDatum(reason)};
    spi_exec_args(sql, 2, types, values, SPI_OK_UPDATE);
    notify(job_id);
}

// Mark the job failed (in its own transaction).
void fail_job(int64 job_id, const char *message, const double *unrecorded_throttle_ms) {
    begin_txn("safe_column: recording a failed job");
    record_throttled(job_id, unrecorded_throttle_ms);
    char *sql = psprintf(
        "UPDATE %s SET state = 'failed', error = $2, finished_at = pg_catalog.clock_timestamp() WHERE job_id = $1",
        store_table());
    Oid types[2] = {INT8OID, TEXTOID};
    Datum values[2] = {Int64GetDatum(job_id), CStringGetTextDatum(message)};
    spi_exec_args(sql, 2, types, values, SPI_OK_UPDATE);
    notify(job_id);
    commit_txn();
}

int64 next_runnable_job() {
    char *sql = psprintf("SELECT job_id FROM %s WHERE state IN ('queued', 'backfilling', 'validating')"
                         " ORDER BY job_id LIMIT 1",
                         store_table());
    spi_exec(sql, SPI_OK_SELECT);
    if (SPI_processed == 0)
        return 0;
    bool isnull;
    return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

}  // namespace sc::pg
