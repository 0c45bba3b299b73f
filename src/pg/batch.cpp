#include <string>

#include "core/sql_text.hpp"
#include "pg/batch.hpp"
#include "pg/guard.hpp"
#include "pg/guc.hpp"
#include "pg/subxact.hpp"
#include "pg/worker_session.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/vacuum.h"
#include "executor/instrument.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "parser/parse_node.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
}

namespace sc::pg {

namespace {

// The core's SQL text, each call inside cpp_entry: a C++ exception (std::bad_alloc from formatting, a
// PgError from pstrdup) becomes an ERROR of the step, which fails the job, instead of escaping the
// worker's C frames (std::terminate, and crash recovery of the whole cluster).
char *core_fill_batch(const char *table, const char *column, const char *expr, bool skip_locked) {
    return cpp_entry("safe_column worker", [&] {
        throw_injected_fault("fill_batch");
        std::string text = skip_locked ? sc::sql::fill_batch(table, column, expr)
                                       : sc::sql::fill_batch_direct(table, column, expr);
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

struct RowProbe {
    Oid creator;
    Oid relid;
    const char *sql;
    Datum tid;
    bool is_null;  // out: the expression gave NULL for the row
};

// Evaluate the job's expression on one row, as the creator (run in a subtransaction).
void probe_row(void *arg) {
    auto *p = static_cast<RowProbe *>(arg);
    RoleSwitch rs;
    as_table_owner(p->creator, p->relid, &rs);
    Oid types[1] = {TIDOID};
    Datum values[1] = {p->tid};
    int rc = run_user_sql(p->sql, true, 1, types, values);
    back_from_table_owner(&rs);
    if (rc == SPI_OK_SELECT && SPI_processed == 1) {
        bool isnull;
        p->is_null = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    }
}

// The resume point and the counters, in the same transaction as the rows.
void record_batch(const Job *job, Oid relid, int64 end, int64 rows, int64 wal) {
    char *upd_part = psprintf("UPDATE %s SET next_block = $3, done = $3 >= end_block WHERE job_id = $1 AND relid OPERATOR(pg_catalog.=) $2",
                              part_table());
    Oid pt[3] = {INT8OID, OIDOID, INT8OID};
    Datum pv[3] = {Int64GetDatum(job->id), ObjectIdGetDatum(relid), Int64GetDatum(end)};
    spi_exec_args(upd_part, 3, pt, pv, SPI_OK_UPDATE);
    bool backfill = job->phase == sc::JobPhase::backfill;
    char *upd_job = psprintf(
        "UPDATE %s SET rows_done = rows_done + CASE WHEN $3 THEN $2 ELSE 0 END,"
        "              sweep_rows = sweep_rows + CASE WHEN $3 THEN 0 ELSE $2 END,"
        "              pass_rows = pass_rows + $2, batches = batches + 1, wal_bytes = wal_bytes + $4"
        " WHERE job_id = $1",
        store_table());
    Oid jt[4] = {INT8OID, INT8OID, BOOLOID, INT8OID};
    Datum jv[4] = {Int64GetDatum(job->id), Int64GetDatum(rows), BoolGetDatum(backfill), Int64GetDatum(wal)};
    spi_exec_args(upd_job, 4, jt, jv, SPI_OK_UPDATE);
}

}  // namespace

// One batch of the backfill or a sweep pass, on the part next_part() found.
// skip_locked: the previous attempt at this range waited too long on a row the application holds.
void run_batch(Job *job, const PartCursor &part, const char *column, int blocks, bool skip_locked, BatchResult *res) {
    char *table = qualified_name(part.relid);
    if (table == nullptr) {
        // The partition was dropped or detached: nothing left to fill there.
        char *sql = psprintf("UPDATE %s SET done = true WHERE job_id = $1 AND relid OPERATOR(pg_catalog.=) $2", part_table());
        Oid types[2] = {INT8OID, OIDOID};
        Datum values[2] = {Int64GetDatum(job->id), ObjectIdGetDatum(part.relid)};
        spi_exec_args(sql, 2, types, values, SPI_OK_UPDATE);
        res->blocks = 0;
        res->rows = 0;
        res->ms = 0;
        return;
    }
    int64 end = part.next_block + blocks;
    if (end > part.end_block)
        end = part.end_block;
    char *sql = core_fill_batch(table, column, job->fill_expr, skip_locked);
    // The range as TIDs: the batch's text is the same for every batch of the part (one kept plan).
    ItemPointerData range[2];
    ItemPointerSet(&range[0], static_cast<BlockNumber>(part.next_block), 0);
    ItemPointerSet(&range[1], static_cast<BlockNumber>(end), 0);
    Oid range_types[2] = {TIDOID, TIDOID};
    Datum range_values[2] = {PointerGetDatum(&range[0]), PointerGetDatum(&range[1])};

    pgstat_report_activity(STATE_RUNNING, psprintf("safe_column job " INT64_FORMAT ": %s %s blocks " INT64_FORMAT
                                                   "-" INT64_FORMAT " of %s",
                                                   job->id, sc::phase_name(job->phase), column, part.next_block,
                                                   end, table));
    // Only the TID Range Scan: no index or sequential scan of the whole table per batch. A lock the
    // batch cannot get within lock_timeout (the table's, or a row's) fails the batch; it is retried,
    // with SKIP LOCKED after a row lock, so it never keeps others or itself waiting long.
    // These settings are for the batch statement only: the bookkeeping after it must be planned
    // normally (with every scan "disabled", its costs would look huge and invite JIT compilation).
    int batch_nest = NewGUCNestLevel();
    set_for_batch("enable_seqscan", "off");
    set_for_batch("enable_indexscan", "off");
    set_for_batch("enable_bitmapscan", "off");
    set_for_batch("enable_indexonlyscan", "off");
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%dms", lock_timeout_ms);
    set_for_batch("lock_timeout", timeout);

    int64 wal0 = pgWalUsage.wal_bytes;  // this process's own WAL
    instr_time t0 = now_instr();
    RoleSwitch rs;
    as_table_owner(job->creator, part.relid, &rs);
    int rc = run_user_sql(sql, false, 2, range_types, range_values);
    back_from_table_owner(&rs);
    AtEOXact_GUC(false, batch_nest);
    if (rc != SPI_OK_UPDATE)
        elog(ERROR, "backfill batch failed: %s", SPI_result_code_string(rc));
    int64 rows = static_cast<int64>(SPI_processed);
    double ms = ms_since(t0);
    int64 wal = pgWalUsage.wal_bytes - wal0;
    commit_without_flush();

    record_batch(job, part.relid, end, rows, wal);
    job->pass_rows += rows;

    res->relid = part.relid;
    res->part_blocks = part.end_block;
    res->blocks = static_cast<int>(end - part.next_block);
    res->rows = rows;
    res->ms = ms;
    res->wal = wal;
}

char *find_failing_row(const Job *job, const char *column, const PartCursor *part, int64 end) {
    char *table = qualified_name(part->relid);
    if (table == nullptr)
        return nullptr;
    char *rows_sql = psprintf(
        "SELECT ctid FROM ONLY %s WHERE ctid >= '(" INT64_FORMAT ",0)'::pg_catalog.tid AND ctid < '(" INT64_FORMAT
        ",0)'::pg_catalog.tid AND %s IS NULL ORDER BY ctid",
        table, part->next_block, end, column);
    char *probe_sql = psprintf("SELECT (%s) IS NULL FROM ONLY %s WHERE ctid = $1", job->fill_expr, table);
    char *found = nullptr;
    RoleSwitch rs;
    as_table_owner(job->creator, part->relid, &rs);
    int rc = SPI_execute(rows_sql, true, 0);
    back_from_table_owner(&rs);
    if (rc != SPI_OK_SELECT)
        return nullptr;
    SPITupleTable *rows = SPI_tuptable;
    uint64 n = SPI_processed;
    for (uint64 i = 0; i < n && found == nullptr; i++) {
        bool isnull;
        exit_if_postmaster_died();
        RowProbe probe{job->creator, part->relid, probe_sql, SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &isnull),
                       false};
        ErrorData *edata = run_in_subtransaction(probe_row, &probe);
        const char *row = DatumGetCString(DirectFunctionCall1(tidout, probe.tid));
        if (edata != nullptr)
            found = psprintf("%s (row %s of %s)", edata->message, row, get_rel_name(part->relid));
        else if (probe.is_null && job->not_null)
            found = psprintf("the expression is null for row %s of %s, and the column is to be NOT NULL", row,
                             get_rel_name(part->relid));
    }
    return found;
}

void vacuum_part(Oid relid) {
    exit_if_postmaster_died();
    MemoryContext oldcxt = CurrentMemoryContext;
    MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "safe_column vacuum", ALLOCSET_DEFAULT_SIZES);
    PG_TRY();
    {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        char *table = qualified_name(relid);
        if (table != nullptr) {
            MemoryContextSwitchTo(cxt);
            PortalContext = cxt;  // VACUUM keeps what must outlive its transactions there
            char *sql = psprintf("VACUUM (SKIP_LOCKED, TRUNCATE false) %s", table);
            List *parsed = raw_parser(sql, RAW_PARSE_DEFAULT);
            VacuumStmt *stmt = castNode(VacuumStmt, linitial_node(RawStmt, parsed)->stmt);
            pgstat_report_activity(STATE_RUNNING, sql);
            ExecVacuum(make_parsestate(nullptr), stmt, true);
        }
        CommitTransactionCommand();
        pgstat_report_activity(STATE_IDLE, nullptr);
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(oldcxt);
        ErrorData *edata = CopyErrorData();
        FlushErrorState();
        AbortCurrentTransaction();
        ereport(LOG, (errmsg("safe_column: VACUUM of relation %u skipped: %s", relid, edata->message)));
        FreeErrorData(edata);
    }
    PG_END_TRY();
    PortalContext = nullptr;
    MemoryContextSwitchTo(oldcxt);
    MemoryContextDelete(cxt);
    exit_if_postmaster_died();
}

}  // namespace sc::pg
