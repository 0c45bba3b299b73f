#include <cstring>
#include <new>

#include "pg/kept_plans.hpp"
#include "pg/worker.hpp"
#include "pg/worker_session.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
}

namespace sc::pg {

// safe_column.debug_inject_fault: for tests only (superuser, hidden). Names a point in the worker's C++
// code where std::bad_alloc is then thrown, to prove that the guard around it turns it into an error of
// the job, not a crash of the cluster.
void throw_injected_fault(const char *point) {
    if (debug_inject_fault != nullptr && strcmp(debug_inject_fault, point) == 0)
        throw std::bad_alloc();
}

instr_time now_instr() {
    instr_time t;
    INSTR_TIME_SET_CURRENT(t);
    return t;
}

// Milliseconds since start (from now_instr()).
double ms_since(instr_time start) {
    instr_time t = now_instr();
    INSTR_TIME_SUBTRACT(t, start);
    return INSTR_TIME_GET_MILLISEC(t);
}

// ---------------------------------------------------------------------------------------------
// Transactions of the worker

// Every transaction of the worker opens a GUC nest level with search_path pinned, and closes it with
// abort semantics before it commits: whatever ran in the transaction (the job's expression, a trigger,
// an index function; each also inside a level of its own) cannot change a setting of the worker's
// session, not even with SET or set_config(..., false); and the worker's own queries always resolve
// names and operators in pg_catalog only.
namespace {
int txn_guc_nest = 0;
bool commit_async = false;
}  // namespace

void begin_txn(const char *activity) {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    commit_async = false;
    txn_guc_nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                            false);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, activity);
}

void commit_without_flush() { commit_async = true; }

void commit_txn() {
    PopActiveSnapshot();
    SPI_finish();
    AtEOXact_GUC(false, txn_guc_nest);
    // A batch commits its rows with its resume point: a commit lost in a crash only means the batch
    // runs again. So it does not wait for its WAL to be flushed, which leaves the disk to the
    // application's commits. (Phase changes and DDL steps commit synchronously: a state someone saw,
    // such as complete, stays.)
    if (commit_async)
        (void)set_config_option("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0,
                                false);
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
}

// ---------------------------------------------------------------------------------------------
// Small SPI helpers (inside a transaction with SPI connected)

void spi_exec(const char *sql, int expected) {
    int rc = SPI_execute(sql, false, 0);
    if (rc != expected)
        elog(ERROR, "SPI_execute failed (%s): %s", SPI_result_code_string(rc), sql);
}

// The worker's bookkeeping, run at every step: through kept plans (kept_plans.hpp).
void spi_exec_args(const char *sql, int nargs, Oid *types, Datum *values, int expected) {
    int rc = spi_run_kept(sql, nargs, types, values, false);
    if (rc != expected)
        elog(ERROR, "SPI_execute_plan failed (%s): %s", SPI_result_code_string(rc), sql);
}

// The column's current name; NULL once it is dropped (a dropped column keeps a pg_attribute row,
// renamed "........pg.dropped.N........").
char *live_attname(Oid relid, AttrNumber attnum) {
    HeapTuple tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
    if (!HeapTupleIsValid(tup))
        return nullptr;
    auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tup));
    char *name = att->attisdropped ? nullptr : pstrdup(NameStr(att->attname));
    ReleaseSysCache(tup);
    return name;
}

char *qualified_name(Oid relid) {
    char *rel = get_rel_name(relid);
    if (rel == nullptr)
        return nullptr;
    return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

// ---------------------------------------------------------------------------------------------
// The job's own SQL

// Run the job's SQL on a table as the table's owner, the way VACUUM, ANALYZE and CREATE INDEX run the
// owner's code: SECURITY_RESTRICTED_OPERATION, a GUC nest level of its own with search_path pinned
// (the job's expressions were resolved and schema-qualified when the job was created, so nothing
// planted in a schema later can take their place), closed with abort semantics. Always the owner, never
// the job's creator: the owner controls the triggers, index expressions, defaults and policies that
// run, and a creator with more rights (a superuser, an admin role the owner is granted to) must not
// lend them to that code. The creator could add the column only as the owner or a member of it.
namespace {

bool last_timed_out = false;

}  // namespace

// The owner of the table (of the partition, for a partition's batch); the fallback, for a table that
// vanished meanwhile (the statement then fails on the missing table), is a role with no rights on it.
Oid acting_role(Oid creator, Oid relid) {
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tup))
        return creator;
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relowner;
    ReleaseSysCache(tup);
    return owner;
}

void as_table_owner(Oid creator, Oid relid, RoleSwitch *rs) {
    Oid role = acting_role(creator, relid);
    GetUserIdAndSecContext(&rs->save_user, &rs->save_sec);
    rs->nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
    // A row-level security policy that hides rows from the role would make the batches skip them
    // silently: with row_security off, such a statement fails instead, and the job with it.
    (void)set_config_option("row_security", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    SetUserIdAndSecContext(role, rs->save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
}

void back_from_table_owner(const RoleSwitch *rs) {
    SetUserIdAndSecContext(rs->save_user, rs->save_sec);
    // Abort semantics, as PostgreSQL after untrusted code: a SET or set_config(..., false) done by the
    // expression, a trigger or an index function does not survive into the worker's session.
    AtEOXact_GUC(false, rs->nest);
}

// Run the job's SQL (as the table's owner: within as_table_owner) with safe_column.batch_timeout armed as a
// statement timeout, which PostgreSQL does not arm for a background worker's SPI: an expression that
// sleeps, or waits for something that never comes, cannot hold the database's worker (and every job
// queued behind it) for ever. user_sql_timed_out() says whether the last error was that timeout.
int run_user_sql(const char *sql, bool read_only, int nargs, Oid *types, Datum *values) {
    last_timed_out = false;
    instr_time t0 = now_instr();
    if (batch_timeout_ms > 0)
        enable_timeout_after(STATEMENT_TIMEOUT, batch_timeout_ms);
    int rc = 0;
    PG_TRY();
    {
        rc = nargs > 0 ? spi_run_kept(sql, nargs, types, values, read_only) : SPI_execute(sql, read_only, 0);
    }
    PG_CATCH();
    {
        if (batch_timeout_ms > 0) {
            disable_timeout(STATEMENT_TIMEOUT, false);
            last_timed_out = geterrcode() == ERRCODE_QUERY_CANCELED && ms_since(t0) >= batch_timeout_ms;
        }
        PG_RE_THROW();
    }
    PG_END_TRY();
    if (batch_timeout_ms > 0)
        disable_timeout(STATEMENT_TIMEOUT, false);
    return rc;
}

bool user_sql_timed_out() { return last_timed_out; }
void clear_user_sql_timed_out() { last_timed_out = false; }

// Within a GUC nest level the caller ends with AtEOXact_GUC.
void set_for_batch(const char *name, const char *value) {
    (void)set_config_option(name, value, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

// Sleep on the latch for ms, answering SIGTERM. A reload (SIGHUP) ends the nap, since the settings
// that asked for it may have changed (safe_column.throttle = off); any other wakeup (a latch set for
// something else, e.g. before the first nap) does not cut the pause short. False when a reload did.
void exit_if_postmaster_died() {
    if (!PostmasterIsAlive())
        proc_exit(1);
}

bool nap(long ms) {
    if (ms <= 0)
        return true;
    TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
    for (;;) {
        long left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);
        if (left <= 0)
            break;
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, left, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
            return false;
        }
    }
    return true;
}

}  // namespace sc::pg
