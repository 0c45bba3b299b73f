// Operator control of jobs: pause, resume, cancel, wait, and the live progress function.
#include <cstring>

#include "core/sql_text.hpp"
#include "pg/add_column.hpp"
#include "pg/guard.hpp"
#include "pg/index_build.hpp"
#include "pg/jobs.hpp"
#include "pg/staged_constraints.hpp"
#include "pg/lock.hpp"
#include "pg/overrides.hpp"
#include "pg/shmem.hpp"
#include "pg/worker.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
}

#include "pg/compat.hpp"

namespace sc::pg {

namespace {

struct JobRow {
    int64 id;
    Oid relid;
    AttrNumber attnum;
    Oid creator;
    char *state;
    char *phase;
    char *constraint_name;
    char *error;
    bool created_here;  // inserted by the current transaction
};

// Load the job as the extension owner (SPI connected).
void load_job_row(int64 job_id, JobRow *out) {
    OwnerContext ctx;
    enter_owner_context(&ctx);
    char *sql = psprintf("SELECT relid, attnum, created_by, state, phase, constraint_name, error, xmin::text::bigint"
                         "  FROM %s WHERE job_id = $1",
                         extension_table("safe_column_job_store"));
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(job_id)};
    int rc = SPI_execute_with_args(sql, 1, types, values, nullptr, false, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
    if (SPI_processed != 1)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("safe_column job " INT64_FORMAT " does not exist",
                                                                  job_id)));
    HeapTuple tup = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool isnull;
    out->id = job_id;
    out->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
    out->attnum = DatumGetInt16(SPI_getbinval(tup, desc, 2, &isnull));
    out->creator = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
    out->state = SPI_getvalue(tup, desc, 4);
    out->phase = SPI_getvalue(tup, desc, 5);
    out->constraint_name = SPI_getvalue(tup, desc, 6);
    out->error = SPI_getvalue(tup, desc, 7);
    TransactionId xmin = static_cast<TransactionId>(DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull)));
    out->created_here = TransactionIdIsCurrentTransactionId(xmin);
    leave_owner_context(&ctx);
}

// Only the job's creator (or a member of it), the table's owner, or a superuser controls a job.
void check_control(const JobRow *job, const char *action) {
    Oid me = GetUserId();
    if (superuser() || has_privs_of_role(me, job->creator))
        return;
    if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(job->relid)) && compat::owns_relation(job->relid, me))
        return;
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("permission denied to %s safe_column job " INT64_FORMAT, action, job->id),
                    errdetail("Only the role that created the job, the owner of its table, or a superuser may."),
                    errhint("Ask the job's creator, or the table's owner.")));
}

void set_state(int64 job_id, const char *state, bool clear_error, bool finished) {
    OwnerContext ctx;
    enter_owner_context(&ctx);
    char *sql = psprintf("UPDATE %s SET state = $2,"
                         "       error = CASE WHEN $3 THEN NULL ELSE error END,"
                         "       pause_reason = CASE WHEN $3 THEN NULL ELSE pause_reason END,"
                         "       finished_at = CASE WHEN $4 THEN pg_catalog.clock_timestamp() END"
                         " WHERE job_id = $1",
                         extension_table("safe_column_job_store"));
    Oid types[4] = {INT8OID, TEXTOID, BOOLOID, BOOLOID};
    Datum values[4] = {Int64GetDatum(job_id), CStringGetTextDatum(state), BoolGetDatum(clear_error),
                       BoolGetDatum(finished)};
    int rc = SPI_execute_with_args(sql, 4, types, values, nullptr, false, 0);
    if (rc != SPI_OK_UPDATE)
        elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
    notify_job(job_id, extension_table("safe_column_job_store"));
    leave_owner_context(&ctx);
}

[[noreturn]] void not_in_state(const JobRow *job, const char *action) {
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("cannot %s safe_column job " INT64_FORMAT " because it is %s", action, job->id,
                           job->state)));
}

// Run a DDL statement on the job's table queue-safely, as the table's owner (the caller is allowed to
// control the job; the table's owner is who may change it), the way PostgreSQL runs an owner's code in
// maintenance commands: a security-restricted operation, in a GUC nest level of its own with
// search_path pinned, closed with abort semantics (an event trigger that fires sees pg_catalog only,
// and nothing it sets outlives the statement in the caller's session).
void job_ddl(const JobRow *job, LOCKMODE mode, const char *sql, const char *what) {
    (void)lock_queue_safe(job->relid, mode, true, what);
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(job->relid));
    if (!HeapTupleIsValid(tup))
        return;
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relowner;
    ReleaseSysCache(tup);
    int nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                            0, false);
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    run_extension_ddl(sql);
    SetUserIdAndSecContext(save_user, save_sec);
    AtEOXact_GUC(false, nest);
}

char *core_text_drop_constraint(const char *table, const char *constraint) {
    std::string text = sc::sql::drop_constraint(table, constraint);
    return pg_call([&] { return pstrdup(text.c_str()); });
}

char *core_text_drop_column(const char *table, const char *column) {
    std::string text = sc::sql::drop_column(table, column);
    return pg_call([&] { return pstrdup(text.c_str()); });
}

// A cancelled job leaves none of its staged constraints NOT VALID (one validated already stays: it holds
// for every row).
void drop_staged_not_valid(const JobRow *job, const char *table) {
    OwnerContext ctx;
    enter_owner_context(&ctx);
    List *staged = load_staged_constraints(job->id);
    leave_owner_context(&ctx);
    ListCell *lc;
    foreach (lc, staged) {
        const char *name = static_cast<StagedConstraint *>(lfirst(lc))->name;
        bool validated = false;
        if (constraint_state(job->relid, name, &validated) && !validated)
            job_ddl(job, AccessExclusiveLock, core_text_drop_constraint(table, quote_identifier(name)),
                    "remove a constraint of a cancelled job that is not valid yet");
    }
}

// The worker running job_id (its live slot), or 0.
int worker_of(int64 job_id, bool *building_index) {
    LiveJob live[max_live_jobs];
    int n = live_snapshot(live, max_live_jobs, MyDatabaseId);
    for (int i = 0; i < n; i++)
        if (live[i].job_id == job_id) {
            *building_index = strcmp(live[i].phase, sc::phase_name(sc::JobPhase::build_index)) == 0;
            return live[i].pid;
        }
    return 0;
}

// A cancelled job leaves no index of its own. Its worker drops it (concurrently) when it stops, and
// one in the middle of building it is interrupted once the cancel commits (the build would otherwise
// run to its end first). A job no worker runs has it dropped here: DROP INDEX, brief, queue-safe.
void cancel_staged_index(const JobRow *job) {
    bool building = false;
    int pid = worker_of(job->id, &building);
    if (pid != 0) {
        if (building)
            interrupt_worker_at_commit(pid);
        return;
    }
    OwnerContext ctx;
    enter_owner_context(&ctx);
    StagedConstraint *ix = staged_index_of(job->id);
    leave_owner_context(&ctx);
    char *index = ix != nullptr ? unattached_staged_index(job->relid, ix->name) : nullptr;
    if (index != nullptr)
        job_ddl(job, AccessExclusiveLock, psprintf("DROP INDEX IF EXISTS %s", index),
                "remove the index of a cancelled job");
}

// The control functions are not STRICT: a NULL job or flag is an error, never a silent no-op.
void require_arg(FunctionCallInfo fcinfo, int n, const char *argname) {
    if (PG_ARGISNULL(n))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be null", argname)));
}

Datum pause_impl(FunctionCallInfo fcinfo) {
    require_arg(fcinfo, 0, "job");
    int64 job_id = PG_GETARG_INT64(0);
    SPI_connect();
    JobRow job;
    load_job_row(job_id, &job);
    check_control(&job, "pause");
    // After the step in progress, before the next: the job as that step left it.
    lock_job_step(job_id);
    load_job_row(job_id, &job);
    if (strcmp(job.state, "paused") == 0) {
        ereport(NOTICE, (errmsg("safe_column job " INT64_FORMAT " is already paused", job_id)));
    } else if (!is_running_state(job.state)) {
        not_in_state(&job, "pause");
    } else {
        set_state(job_id, "paused", false, false);
    }
    SPI_finish();
    PG_RETURN_TEXT_P(cstring_to_text("paused"));
}

Datum resume_impl(FunctionCallInfo fcinfo) {
    require_arg(fcinfo, 0, "job");
    int64 job_id = PG_GETARG_INT64(0);
    MemoryContext caller = CurrentMemoryContext;
    SPI_connect();
    JobRow job;
    load_job_row(job_id, &job);
    check_control(&job, "resume");
    const char *state = job.state;
    if (strcmp(job.state, "paused") == 0 || strcmp(job.state, "failed") == 0) {
        state = strcmp(job.phase, "backfill") == 0 || strcmp(job.phase, "sweep") == 0 ? "backfilling" : "validating";
        set_state(job_id, state, true, false);
    } else if (is_running_state(job.state)) {
        ereport(NOTICE, (errmsg("safe_column job " INT64_FORMAT " is already %s", job_id, job.state)));
    } else {
        not_in_state(&job, "resume");
    }
    // Also when it was running: its worker may be gone (a restart without shared_preload_libraries).
    start_worker_at_commit();
    // The state may point into SPI's memory, which SPI_finish frees.
    char *result = MemoryContextStrdup(caller, state);
    SPI_finish();
    PG_RETURN_TEXT_P(cstring_to_text(result));
}

Datum cancel_impl(FunctionCallInfo fcinfo) {
    require_arg(fcinfo, 0, "job");
    require_arg(fcinfo, 1, "drop_column");
    int64 job_id = PG_GETARG_INT64(0);
    bool drop = PG_GETARG_BOOL(1);
    SPI_connect();
    JobRow job;
    load_job_row(job_id, &job);
    check_control(&job, "cancel");
    // Controlling a job is not owning its table: dropping the column is the owner's right, as for
    // ALTER TABLE (the job's creator may have handed the table over since).
    if (drop && SearchSysCacheExists1(RELOID, ObjectIdGetDatum(job.relid)) && !compat::owns_relation(job.relid, GetUserId()))
        aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(job.relid));
    // After the step in progress (an index build holds none: the cancel interrupts it), before the next.
    lock_job_step(job_id);
    load_job_row(job_id, &job);
    if (strcmp(job.state, "complete") == 0)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("cannot cancel safe_column job " INT64_FORMAT " because it is complete", job_id),
                        errhint("To remove the column, use ALTER TABLE ... DROP COLUMN.")));
    if (strcmp(job.state, "cancelled") == 0 && !drop) {
        ereport(NOTICE, (errmsg("safe_column job " INT64_FORMAT " is already cancelled", job_id)));
        SPI_finish();
        PG_RETURN_TEXT_P(cstring_to_text("cancelled"));
    }
    // The state first: the worker's next step sees it, and stops.
    set_state(job_id, "cancelled", false, true);
    char *table = nullptr;
    if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(job.relid)))
        table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(job.relid)), get_rel_name(job.relid));
    bool validated = false;
    if (table != nullptr && job.constraint_name != nullptr && constraint_state(job.relid, job.constraint_name, &validated))
        job_ddl(&job, AccessExclusiveLock, core_text_drop_constraint(table, quote_identifier(job.constraint_name)),
                "remove the helper constraint of a cancelled job");
    if (table != nullptr) {
        drop_staged_not_valid(&job, table);
        cancel_staged_index(&job);
    }
    if (table != nullptr && drop) {
        char *column = get_attname(job.relid, job.attnum, true);
        if (column != nullptr)
            job_ddl(&job, AccessExclusiveLock, core_text_drop_column(table, quote_identifier(column)),
                    "drop the column of a cancelled job");
    }
    SPI_finish();
    PG_RETURN_TEXT_P(cstring_to_text("cancelled"));
}

struct Progress {
    char *state;
    char *phase;
    char *error;
    char *line;  // for the NOTICE
};

// Read as the caller, through the public views: what the caller may not read there (another role's
// error) it does not get here either. Everything it allocates, SPI's result included, is in the
// current memory context, which the caller resets after each poll.
void read_progress(int64 job_id, Progress *p) {
    int nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                            0, false);
    char *sql = psprintf("SELECT state, phase, error, %s(job_id) FROM %s WHERE job_id = $1",
                         extension_object_unlocked("safe_column_progress_line"),
                         extension_object_unlocked("safe_column_jobs"));
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(job_id)};
    // Not read-only: each call takes a new snapshot and sees what the worker committed since.
    int rc = SPI_execute_with_args(sql, 1, types, values, nullptr, false, 1);
    if (rc != SPI_OK_SELECT || SPI_processed != 1)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("safe_column job " INT64_FORMAT " does not exist",
                                                                  job_id)));
    HeapTuple tup = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    p->state = SPI_getvalue(tup, desc, 1);
    p->phase = SPI_getvalue(tup, desc, 2);
    p->error = SPI_getvalue(tup, desc, 3);
    p->line = SPI_getvalue(tup, desc, 4);
    SPI_freetuptable(SPI_tuptable);
    AtEOXact_GUC(false, nest);
}

// The job whose worker builds its index and waits for this session's transaction to end (CREATE INDEX
// CONCURRENTLY waits for every older snapshot), or 0. Waiting for any job then would wait for ever.
int64 index_build_waiting_for_me() {
    LiveJob live[max_live_jobs];
    int n = live_snapshot(live, max_live_jobs, MyDatabaseId);
    for (int i = 0; i < n; i++) {
        if (strcmp(live[i].phase, sc::phase_name(sc::JobPhase::build_index)) != 0)
            continue;
        Oid types[1] = {INT4OID};
        Datum values[1] = {Int32GetDatum(live[i].pid)};
        int rc = SPI_execute_with_args("SELECT pg_catalog.pg_backend_pid() OPERATOR(pg_catalog.=) ANY"
                                       " (pg_catalog.pg_blocking_pids($1))",
                                       1, types, values, nullptr, true, 1);
        bool isnull = true;
        bool blocked = rc == SPI_OK_SELECT && SPI_processed == 1 &&
                       DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        SPI_freetuptable(SPI_tuptable);
        if (blocked && !isnull)
            return live[i].job_id;
    }
    return 0;
}

// safe_column_wait's timeout. ('infinity' is an interval from 17: its fields at their maximum, a wait
// without deadline; '-infinity' is negative.)
double timeout_microseconds(const Interval *iv) {
    double secs = static_cast<double>(iv->time) / USECS_PER_SEC +
                  (static_cast<double>(iv->day) + iv->month * 30.0) * SECS_PER_DAY;
    if (secs < 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("timeout must not be negative")));
    return secs * USECS_PER_SEC;
}

Datum wait_impl(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("job must not be null")));
    int64 job_id = PG_GETARG_INT64(0);
    double timeout_us = PG_ARGISNULL(1) ? -1 : timeout_microseconds(PG_GETARG_INTERVAL_P(1));  // -1: none
    if (IsolationUsesXactSnapshot())
        ereport(ERROR, (errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
                        errmsg("safe_column_wait cannot run in a REPEATABLE READ or SERIALIZABLE transaction"),
                        errdetail("Such a transaction would never see the job's progress."),
                        errhint("Call it outside an explicit transaction, or in READ COMMITTED.")));
    MemoryContext caller = CurrentMemoryContext;
    SPI_connect();
    JobRow job;
    load_job_row(job_id, &job);
    if (job.created_here && is_running_state(job.state))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("safe_column job " INT64_FORMAT " was created by the current transaction", job_id),
                        errdetail("Its worker starts when the transaction commits."),
                        errhint("Commit first, then call safe_column_wait.")));
    TimestampTz start = GetCurrentTimestamp();
    // A timeout beyond the end of time is no timeout (and must not wrap around into the past).
    TimestampTz deadline = DT_NOEND;
    if (timeout_us >= 0 && timeout_us < static_cast<double>(DT_NOEND - start))
        deadline = start + static_cast<TimestampTz>(timeout_us);
    TimestampTz last_notice = 0;
    Progress p;
    // Each poll in a memory context of its own, reset before the next: a wait of hours uses no more
    // memory than a wait of seconds.
    MemoryContext pollcxt = AllocSetContextCreate(CurrentMemoryContext, "safe_column_wait poll",
                                                  ALLOCSET_SMALL_SIZES);
    for (;;) {
        MemoryContextReset(pollcxt);
        MemoryContext old = MemoryContextSwitchTo(pollcxt);
        read_progress(job_id, &p);
        int64 building = is_running_state(p.state) ? index_build_waiting_for_me() : 0;
        MemoryContextSwitchTo(old);
        if (!is_running_state(p.state))
            break;
        if (building != 0)
            ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                            errmsg("safe_column_wait cannot wait for safe_column job " INT64_FORMAT
                                   " while the index build of job " INT64_FORMAT " waits for this transaction",
                                   job_id, building),
                            errdetail("CREATE INDEX CONCURRENTLY waits for every transaction with an older "
                                      "snapshot to end, the one of this wait included."),
                            errhint("Use CALL safe_column_watch(" INT64_FORMAT ") outside a transaction block: it "
                                    "holds no snapshot while it waits.", job_id)));
        TimestampTz now = GetCurrentTimestamp();
        if (last_notice == 0 || TimestampDifferenceExceeds(last_notice, now, 5000)) {
            ereport(NOTICE, (errmsg("%s", p.line)));
            last_notice = now;
        }
        if (now >= deadline) {
            ereport(NOTICE, (errmsg("safe_column job " INT64_FORMAT " is still %s after the timeout", job_id,
                                    p.state)));
            break;
        }
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 200L, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
    if (strcmp(p.state, "failed") == 0)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("safe_column job " INT64_FORMAT " failed: %s", job_id, p.error ? p.error : "?"),
                        errhint("Fix the cause, then call safe_column_resume(" INT64_FORMAT ").", job_id)));
    // p.state lives in the poll's memory, which SPI_finish frees with SPI's (a long wait had made that
    // memory go back to the system: reading it crashed the backend).
    char *state = MemoryContextStrdup(caller, p.state);
    SPI_finish();
    PG_RETURN_TEXT_P(cstring_to_text(state));
}

Datum set_impl(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("job must not be null")));
    if (PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("name must not be null")));
    int64 job_id = PG_GETARG_INT64(0);
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
    char *value = PG_ARGISNULL(2) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(2));
    for (char *c = name; *c; c++)
        *c = static_cast<char>(pg_ascii_tolower(static_cast<unsigned char>(*c)));  // as for SET
    if (strncmp(name, "safe_column.", 12) == 0)
        name += 12;
    if (overridable_setting(name) == nullptr)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("\"%s\" is not a setting a job can override", name),
                        errhint("One of: %s.", overridable_settings_list())));
    name = pstrdup(overridable_setting(name));
    if (value != nullptr)
        validate_override(name, value);
    MemoryContext caller = CurrentMemoryContext;
    SPI_connect();
    JobRow job;
    load_job_row(job_id, &job);
    check_control(&job, "change");
    // The settings are the server's (PGC_SIGHUP): a job may go beyond them only for a role that may
    // change them. Going back to the server's value is every controller's right.
    if (value != nullptr && !superuser()) {
        char *full = psprintf("safe_column.%s", name);
        if (pg_parameter_aclcheck(full, GetUserId(), ACL_ALTER_SYSTEM) != ACLCHECK_OK)
            ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                            errmsg("permission denied to override %s for safe_column job " INT64_FORMAT, full, job_id),
                            errdetail("A job may override a server setting only for a role that may change it."),
                            errhint("Ask a superuser, or have ALTER SYSTEM ON PARAMETER %s granted.", full)));
    }
    if (strcmp(job.state, "complete") == 0 || strcmp(job.state, "cancelled") == 0)
        not_in_state(&job, "change");
    OwnerContext ctx;
    enter_owner_context(&ctx);
    char *sql = psprintf("UPDATE %s SET settings = CASE WHEN $3 IS NULL THEN settings - $2"
                         "                             ELSE settings || pg_catalog.jsonb_build_object($2, $3) END"
                         " WHERE job_id = $1 RETURNING settings",
                         extension_table("safe_column_job_store"));
    Oid types[3] = {INT8OID, TEXTOID, TEXTOID};
    Datum values[3] = {Int64GetDatum(job_id), CStringGetTextDatum(name), value ? CStringGetTextDatum(value) : 0};
    char nulls[3] = {' ', ' ', static_cast<char>(value ? ' ' : 'n')};
    int rc = SPI_execute_with_args(sql, 3, types, values, nulls, false, 1);
    if (rc != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
        elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
    char *text = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
    leave_owner_context(&ctx);
    SPI_finish();
    return DirectFunctionCall1(jsonb_in, CStringGetDatum(text));
}

Datum live_impl(FunctionCallInfo fcinfo) {
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    static LiveJob snapshot[max_live_jobs];
    int n = live_snapshot(snapshot, max_live_jobs, MyDatabaseId);
    for (int i = 0; i < n; i++) {
        const LiveJob &j = snapshot[i];
        Datum values[14];
        bool nulls[14] = {false};
        values[0] = Int64GetDatum(j.job_id);
        values[1] = Int32GetDatum(j.pid);
        values[2] = CStringGetTextDatum(j.phase);
        values[3] = Int64GetDatum(j.blocks_done);
        values[4] = Int64GetDatum(j.blocks_total);
        values[5] = Int32GetDatum(j.batch_blocks);
        values[6] = Int64GetDatum(j.batch_rows);
        values[7] = Float8GetDatum(j.last_batch_ms);
        values[8] = Float8GetDatum(j.rows_per_sec);
        nulls[8] = j.rows_per_sec < 0;
        values[9] = Float8GetDatum(j.blocks_per_sec);
        nulls[9] = j.blocks_per_sec < 0;
        values[10] = BoolGetDatum(j.throttled);
        values[11] = CStringGetTextDatum(j.throttle_reason);
        nulls[11] = j.throttle_reason[0] == '\0';
        values[12] = TimestampTzGetDatum(j.updated_at);
        nulls[12] = j.updated_at == 0;
        values[13] = Float8GetDatum(j.sample_ms);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return static_cast<Datum>(0);
}

}  // namespace

}  // namespace sc::pg

extern "C" {

PG_FUNCTION_INFO_V1(safe_column_pause);
PG_FUNCTION_INFO_V1(safe_column_resume);
PG_FUNCTION_INFO_V1(safe_column_cancel);
PG_FUNCTION_INFO_V1(safe_column_wait);
PG_FUNCTION_INFO_V1(safe_column_live);
PG_FUNCTION_INFO_V1(safe_column_set);

Datum safe_column_pause(PG_FUNCTION_ARGS) {
    return sc::pg::cpp_entry("safe_column_pause", [&] { return sc::pg::pause_impl(fcinfo); });
}
Datum safe_column_resume(PG_FUNCTION_ARGS) {
    return sc::pg::cpp_entry("safe_column_resume", [&] { return sc::pg::resume_impl(fcinfo); });
}
Datum safe_column_cancel(PG_FUNCTION_ARGS) {
    return sc::pg::cpp_entry("safe_column_cancel", [&] { return sc::pg::cancel_impl(fcinfo); });
}
Datum safe_column_wait(PG_FUNCTION_ARGS) {
    return sc::pg::cpp_entry("safe_column_wait", [&] { return sc::pg::wait_impl(fcinfo); });
}
Datum safe_column_set(PG_FUNCTION_ARGS) {
    return sc::pg::cpp_entry("safe_column_set", [&] { return sc::pg::set_impl(fcinfo); });
}
Datum safe_column_live(PG_FUNCTION_ARGS) {
    return sc::pg::cpp_entry("safe_column_live", [&] { return sc::pg::live_impl(fcinfo); });
}

}  // extern "C"
