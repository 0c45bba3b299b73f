#include "pg/jobs.hpp"
#include "pg/restored_jobs.hpp"
#include "pg/staged_constraints.hpp"
#include "pg/kept_plans.hpp"

extern "C" {
#include "access/table.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "storage/bufmgr.h"
#include "optimizer/plancat.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/proc.h"
}

#include "pg/compat.hpp"

namespace sc::pg {

namespace {

[[noreturn]] void not_installed() {
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("extension \"safe_column\" is not installed in database \"%s\"",
                           get_database_name(MyDatabaseId)),
                    errhint("Run CREATE EXTENSION safe_column.")));
    pg_unreachable();
}

Oid extension_owner(char **schema_out) {
    static const char *query =
        "SELECT e.extowner, n.nspname FROM pg_catalog.pg_extension e"
        "  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'safe_column'";
    int rc = SPI_execute(query, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    if (SPI_processed != 1)
        not_installed();
    bool isnull;
    Oid owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    if (schema_out)
        *schema_out = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
    SPI_freetuptable(SPI_tuptable);  // kept by SPI until SPI_finish otherwise (safe_column_wait polls)
    return owner;
}

char *text_or_null(HeapTuple tup, TupleDesc desc, int col) {
    bool isnull;
    (void)SPI_getbinval(tup, desc, col, &isnull);
    return isnull ? nullptr : SPI_getvalue(tup, desc, col);
}

}  // namespace

void enter_owner_context(OwnerContext *ctx) {
    GetUserIdAndSecContext(&ctx->save_user, &ctx->save_sec);
    ctx->guc_nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
    Oid owner = extension_owner(nullptr);
    SetUserIdAndSecContext(owner, ctx->save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
}

void leave_owner_context(const OwnerContext *ctx) {
    SetUserIdAndSecContext(ctx->save_user, ctx->save_sec);
    // Abort semantics: no setting changed at this level (by anything that ran meanwhile) survives.
    AtEOXact_GUC(false, ctx->guc_nest);
}

namespace {

// The extension's schema, as found for the current (sub)transaction: valid while its pg_namespace row
// stays locked, i.e. until that (sub)transaction ends.
struct SchemaCache {
    LocalTransactionId lxid;
    SubTransactionId subxid;
    char name[NAMEDATALEN];
};
SchemaCache schema_cache{InvalidLocalTransactionId, InvalidSubTransactionId, {}};

// The extension's schema, found through pg_extension.extnamespace (an OID), with the schema's row
// locked FOR KEY SHARE until the end of the current (sub)transaction: a role that owns the schema (the
// database owner owns public) cannot rename it, and put a schema of its own with forged job tables
// under the old name, between this lookup and the statement that uses the name. Our tables in it
// belong to the extension's owner: nobody else can rename or drop them.
const char *locked_extension_schema() {
    if (schema_cache.lxid == compat::my_local_xid() && schema_cache.subxid == GetCurrentSubTransactionId())
        return schema_cache.name;
    static const char *query =
        "SELECT n.nspname FROM pg_catalog.pg_extension e"
        "  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
        " WHERE e.extname OPERATOR(pg_catalog.=) 'safe_column'::pg_catalog.name"
        "   FOR KEY SHARE OF n";
    int rc = spi_run_kept(query, 0, nullptr, nullptr, false);  // once a transaction: a kept plan
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
    if (SPI_processed != 1)
        not_installed();
    strlcpy(schema_cache.name, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), NAMEDATALEN);
    SPI_freetuptable(SPI_tuptable);
    schema_cache.lxid = compat::my_local_xid();
    schema_cache.subxid = GetCurrentSubTransactionId();
    return schema_cache.name;
}

}  // namespace

bool extension_in_database() { return OidIsValid(get_extension_oid("safe_column", true)); }

char *extension_object_unlocked(const char *name) {
    char *schema;
    (void)extension_owner(&schema);
    return psprintf("%s.%s", quote_identifier(schema), quote_identifier(name));
}

char *extension_table(const char *name) {
    const char *schema = RecoveryInProgress() || XactReadOnly ? nullptr : locked_extension_schema();
    char *unlocked = nullptr;
    if (schema == nullptr)
        (void)extension_owner(&unlocked);  // a standby or a read-only transaction cannot lock rows (nor create any)
    return psprintf("%s.%s", quote_identifier(schema ? schema : unlocked), quote_identifier(name));
}

bool find_column_job(Oid relid, AttrNumber attnum, JobRecord *out) {
    OwnerContext ctx;
    enter_owner_context(&ctx);
    char *query = psprintf(
        "SELECT job_id, state, column_type, default_expr, backfill_expr, not_null FROM %s"
        " WHERE relid OPERATOR(pg_catalog.=) $1 AND attnum = $2 ORDER BY job_id DESC LIMIT 1",
        extension_table("safe_column_job_store"));
    Oid argtypes[2] = {OIDOID, INT2OID};
    Datum values[2] = {ObjectIdGetDatum(relid), Int16GetDatum(attnum)};
    int rc = SPI_execute_with_args(query, 2, argtypes, values, nullptr, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
    bool found = SPI_processed == 1;
    if (found) {
        HeapTuple tup = SPI_tuptable->vals[0];
        TupleDesc desc = SPI_tuptable->tupdesc;
        bool isnull;
        out->job_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
        out->state = SPI_getvalue(tup, desc, 2);
        out->column_type = SPI_getvalue(tup, desc, 3);
        out->default_expr = text_or_null(tup, desc, 4);
        out->backfill_expr = text_or_null(tup, desc, 5);
        out->not_null = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
    }
    leave_owner_context(&ctx);
    return found;
}

namespace {

// The parts of a backfill job, each bounded by its size now (the caller holds ACCESS EXCLUSIVE on all of
// them): rows that exist now are all below end_block. Returns the planner's estimate of their rows.
double insert_parts(int64 job_id, List *parts) {
    char *part_sql = psprintf("INSERT INTO %s (job_id, relid, end_block, done) VALUES ($1, $2, $3, $3 = 0)",
                              extension_table("safe_column_job_part"));
    ListCell *lc;
    double tuples = 0;
    foreach (lc, parts) {
        Oid part = lfirst_oid(lc);
        Relation rel = table_open(part, NoLock);
        int64 nblocks = static_cast<int64>(RelationGetNumberOfBlocks(rel));
        // The planner's estimate: good without ANALYZE too (it scales reltuples to the size now).
        BlockNumber pages;
        double reltuples, allvisfrac;
        estimate_rel_size(rel, nullptr, &pages, &reltuples, &allvisfrac);
        // A table never vacuumed nor analyzed counts as at least 10 pages for the planner (a small
        // table may grow before its queries run); the job's estimate is for the pages it has.
        if (pages > 0 && static_cast<int64>(pages) > nblocks)
            reltuples = reltuples * static_cast<double>(nblocks) / static_cast<double>(pages);
        if (reltuples > 0)
            tuples += reltuples;
        table_close(rel, NoLock);
        Oid pt[3] = {INT8OID, OIDOID, INT8OID};
        Datum pv[3] = {Int64GetDatum(job_id), ObjectIdGetDatum(part), Int64GetDatum(nblocks)};
        int rc = SPI_execute_with_args(part_sql, 3, pt, pv, nullptr, false, 0);
        if (rc != SPI_OK_INSERT)
            elog(ERROR, "could not record the parts of the safe_column job: %s", SPI_result_code_string(rc));
    }
    return tuples;
}

// The name of a NOT NULL job's constraint. Before 18 a helper CHECK, dropped at the end: named after
// the job. From 18 the NOT NULL constraint itself, which stays: the name PostgreSQL gives the NOT NULL
// of a column added with it (table_column_not_null), made unique as PostgreSQL makes it.
const char *not_null_constraint_name(const NewJob *job, int64 job_id) {
    if (!compat::not_null_not_valid)
        return psprintf("safe_column_" INT64_FORMAT "_not_null", job_id);
    return ChooseConstraintName(get_rel_name(job->relid), job->column_name, "not_null",
                                get_rel_namespace(job->relid), NIL);
}

}  // namespace

bool is_running_state(const char *state) {
    return strcmp(state, "queued") == 0 || strcmp(state, "backfilling") == 0 || strcmp(state, "validating") == 0;
}

void lock_job_step(int64 job_id) {
    constexpr uint16 kJobStepLockClass = 21315;  // 'S' << 8 | 'C'; pg_advisory_* use 1 and 2
    auto key = static_cast<uint64>(job_id);
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, static_cast<uint32>(key >> 32), static_cast<uint32>(key), kJobStepLockClass);
    (void)LockAcquire(&tag, ExclusiveLock, false, false);
}

namespace {

// attnum, column_name, column_type (values and nulls from there): NULL for a job without a column.
void column_values(const NewJob *job, Datum *values, char *nulls) {
    values[0] = Int16GetDatum(job->attnum);
    nulls[0] = job->attnum == InvalidAttrNumber ? 'n' : ' ';
    if (job->column_name)
        values[1] = DirectFunctionCall1(namein, CStringGetDatum(job->column_name));
    nulls[1] = job->column_name ? ' ' : 'n';
    if (job->column_type)
        values[2] = CStringGetTextDatum(job->column_type);
    nulls[2] = job->column_type ? ' ' : 'n';
}

}  // namespace

int64 insert_job(const NewJob *job) {
    Oid creator = GetUserId();
    const char *search_path = GetConfigOption("search_path", false, false);
    OwnerContext ctx;
    enter_owner_context(&ctx);
    char *nspname = get_namespace_name(get_rel_namespace(job->relid));
    char *relname = get_rel_name(job->relid);
    job_rows_written_here();  // not rows restored from a dump (restored_jobs.cpp)
    char *query = psprintf(
        "INSERT INTO %s (relid, schema_name, table_name, attnum, column_name, column_type, default_expr,"
        "                backfill_expr, not_null, state, created_by, search_path, lock_attempts, lock_wait_ms,"
        "                started_at, finished_at, phase, fill_expr, new_rows_get_value%s)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
        "         CASE WHEN $15 THEN pg_catalog.clock_timestamp() END,"
        "         CASE WHEN $15 THEN pg_catalog.clock_timestamp() END, $16, $17, $18%s)"
        " RETURNING job_id",
        extension_table("safe_column_job_store"), job->kind ? ", kind" : "",
        job->kind ? psprintf(", %s", quote_literal_cstr(job->kind)) : "");
    Oid argtypes[18] = {OIDOID,  NAMEOID, NAMEOID, INT2OID, NAMEOID,   TEXTOID, TEXTOID, TEXTOID, BOOLOID,
                        TEXTOID, OIDOID,  TEXTOID, INT4OID, FLOAT8OID, BOOLOID, TEXTOID, TEXTOID, BOOLOID};
    Datum values[18];
    char nulls[18];
    memset(nulls, ' ', sizeof nulls);
    values[0] = ObjectIdGetDatum(job->relid);
    values[1] = DirectFunctionCall1(namein, CStringGetDatum(nspname));
    values[2] = DirectFunctionCall1(namein, CStringGetDatum(relname));
    column_values(job, values + 3, nulls + 3);
    if (job->default_expr)
        values[6] = CStringGetTextDatum(job->default_expr);
    else
        nulls[6] = 'n';
    if (job->backfill_expr)
        values[7] = CStringGetTextDatum(job->backfill_expr);
    else
        nulls[7] = 'n';
    values[8] = BoolGetDatum(job->not_null);
    values[9] = CStringGetTextDatum(job->state);
    values[10] = ObjectIdGetDatum(creator);
    values[11] = CStringGetTextDatum(search_path);
    values[12] = Int32GetDatum(job->lock_attempts);
    values[13] = Float8GetDatum(job->lock_wait_ms);
    values[14] = BoolGetDatum(job->finished);
    values[15] = CStringGetTextDatum(job->phase ? job->phase : "done");
    if (job->fill_expr)
        values[16] = CStringGetTextDatum(job->fill_expr);
    else
        nulls[16] = 'n';
    values[17] = BoolGetDatum(job->new_rows_get_value);
    int rc = SPI_execute_with_args(query, 18, argtypes, values, nulls, false, 1);
    if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
        elog(ERROR, "could not record the safe_column job: %s", SPI_result_code_string(rc));
    bool isnull;
    int64 job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

    if (job->fill_expr != nullptr) {
        double tuples = insert_parts(job_id, job->parts);
        char *upd = psprintf(
            "UPDATE %s SET rows_total = CASE WHEN $2 > 0 THEN $2::bigint END,"
            "       constraint_name = CASE WHEN not_null THEN $3 END"
            " WHERE job_id = $1",
            extension_table("safe_column_job_store"));
        Oid ut[3] = {INT8OID, FLOAT8OID, NAMEOID};
        Datum uv[3] = {Int64GetDatum(job_id), Float8GetDatum(tuples),
                       DirectFunctionCall1(namein, CStringGetDatum(not_null_constraint_name(job, job_id)))};
        rc = SPI_execute_with_args(upd, 3, ut, uv, nullptr, false, 0);
        if (rc != SPI_OK_UPDATE)
            elog(ERROR, "could not record the safe_column job: %s", SPI_result_code_string(rc));
    }
    record_staged_constraints(job_id, job->staged);
    if (job->fill_expr != nullptr || job->staged != NIL)
        notify_job(job_id, extension_table("safe_column_job_store"));
    leave_owner_context(&ctx);
    return job_id;
}

void notify_job(int64 job_id, const char *job_store) {
    // The table always schema-qualified, whatever the search_path of whoever sends it. Every role of the
    // database may LISTEN: the payload says whether the job has an error, never the error itself (it can
    // quote a row's values); safe_column_jobs shows it to those who may read it.
    char *sql = psprintf(
        "SELECT pg_catalog.pg_notify('safe_column', pg_catalog.json_build_object("
        "'job_id', s.job_id,"
        "'table', pg_catalog.quote_ident(coalesce(n.nspname, s.schema_name)) || '.' ||"
        "         pg_catalog.quote_ident(coalesce(c.relname, s.table_name)),"
        "'column', s.column_name, 'state', s.state, 'phase', s.phase, 'error', s.error IS NOT NULL)::text)"
        "  FROM %s s"
        "  LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.relid"
        "  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE s.job_id = $1",
        job_store);
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(job_id)};
    int rc = SPI_execute_with_args(sql, 1, types, values, nullptr, false, 0);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "could not notify: %s", SPI_result_code_string(rc));
}

}  // namespace sc::pg
