// The launcher and the per-database worker that runs backfill jobs.
//
// Start-up: a job that is queued or resumed asks, at commit, for its database's worker (a dynamic
// background worker; works without shared_preload_libraries). With the library preloaded, a launcher
// also starts a worker for every database at server start (after a crash too): each exits at once
// when its database has no unfinished job. One worker per database at a time: a session-level
// advisory lock decides.
//
// Each batch is one transaction that fills rows and commits the resume point and counters with them,
// so a worker killed at any moment resumes exactly where the last commit left it.
//
// The code here is C-like on purpose: no C++ object with a destructor lives across a PostgreSQL call.
// The pure core (batch size, rate, phases, SQL text) is used through small wrappers that keep its
// C++ objects inside (see core_* below); all its classes used here are trivially destructible.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <new>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "core/batch_sizer.hpp"
#include "core/job_phase.hpp"
#include "core/rate_meter.hpp"
#include "core/sql_text.hpp"
#include "pg/add_column.hpp"
#include "pg/guard.hpp"
#include "pg/guc.hpp"
#include "pg/jobs.hpp"
#include "pg/lock.hpp"
#include "pg/shmem.hpp"
#include "pg/signals.hpp"
#include "pg/overrides.hpp"
#include "core/signal_cache.hpp"
#include "core/throttle.hpp"
#include "pg/subxact.hpp"
#include "pg/worker.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/vacuum.h"
#include "parser/parse_node.h"
#include "parser/parser.h"
#include "executor/instrument.h"
#include "utils/timestamp.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/bufmgr.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/ps_status.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
}

static_assert(std::is_trivially_destructible_v<sc::BatchSizer>, "lives across PostgreSQL calls");
static_assert(std::is_trivially_destructible_v<sc::RateMeter>, "lives across PostgreSQL calls");
static_assert(std::is_trivially_destructible_v<sc::ThrottleController>, "lives across PostgreSQL calls");
static_assert(std::is_trivially_destructible_v<sc::SignalCache>, "lives across PostgreSQL calls");
static_assert(std::is_trivially_destructible_v<sc::PauseDebt>, "lives across PostgreSQL calls");
// The core calls the worker makes outside cpp_entry cannot throw (the others go through core_* below).
static_assert(noexcept(std::declval<sc::BatchSizer &>().observe(0, 0.0)) &&
                  noexcept(std::declval<sc::BatchSizer &>().failed()) &&
                  noexcept(std::declval<sc::BatchSizer &>().set_target_ms(0.0)) &&
                  noexcept(std::declval<sc::RateMeter &>().add(0.0, 0.0)) &&
                  noexcept(std::declval<sc::RateMeter &>().rate()) &&
                  noexcept(std::declval<sc::PauseDebt &>().owe(0.0)) && noexcept(sc::effective_target_ms(0.0, true)) &&
                  noexcept(sc::phase_from_name("", nullptr)) && noexcept(sc::phase_name(sc::JobPhase::done)) &&
                  noexcept(sc::state_for_phase(sc::JobPhase::done)) &&
                  noexcept(sc::next_phase(sc::JobPhase::done, false)) &&
                  noexcept(sc::after_sweep(sc::JobPhase::done, sc::SweepOutcome{}, sc::PhaseInputs{})),
              "called by the worker without a guard");

namespace sc::pg {

bool throttle_enabled = true;
char *debug_inject_fault = nullptr;
int batch_timeout_ms = 60000;
int max_retries = 100;
int batch_target_ms = 1;
double batch_sleep_ratio = 0.5;
int max_wal_rate_kb = 0;

namespace {

// safe_column.debug_inject_fault: for tests only (superuser, hidden). Names a point in the worker's C++
// code where std::bad_alloc is then thrown, to prove that the guard around it turns it into an error of
// the job, not a crash of the cluster.
void throw_injected_fault(const char *point) {
    if (debug_inject_fault != nullptr && strcmp(debug_inject_fault, point) == 0)
        throw std::bad_alloc();
}

double effective_batch_target_ms() {
    return sc::effective_target_ms(batch_target_ms, throttle_enabled);
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

// Key of the session-level advisory lock that makes one worker per database.
constexpr int64 worker_lock_key = 0x5afec01a;

// ---------------------------------------------------------------------------------------------
// Starting workers

bool wake_at_commit = false;
int wake_nest_level = 0;

// Whether a worker of this database is running: it holds the worker lock for as long as it looks for
// and runs jobs, and looks once more after letting go of it, so a job committed while the lock is held
// is always found. Tried without waiting and without raising an error (this runs after commit).
bool db_worker_running() {
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, static_cast<uint32>(worker_lock_key >> 32),
                         static_cast<uint32>(worker_lock_key), 1);
    if (LockHeldByMe(&tag, ExclusiveLock))
        return false;  // this session took the lock itself (pg_advisory_lock): not a worker
    LockAcquireResult got = LockAcquireExtended(&tag, ExclusiveLock, true, true, false, nullptr);
    if (got == LOCKACQUIRE_NOT_AVAIL)
        return true;
    (void)LockRelease(&tag, ExclusiveLock, true);
    return false;
}

void xact_callback(XactEvent event, void *) {
    if (event == XACT_EVENT_COMMIT && wake_at_commit) {
        wake_at_commit = false;
        // A running worker finds the job by itself: no new process for every resume of a running job
        // (a loop of them would fill max_worker_processes for the whole cluster).
        if (db_worker_running())
            return;
        // After commit nothing may raise an error: start_db_worker reports failure by its result.
        if (!start_db_worker(MyDatabaseId))
            want_database(MyDatabaseId);
    } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
        wake_at_commit = false;
    }
}

void subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB && wake_at_commit && GetCurrentTransactionNestLevel() <= wake_nest_level)
        wake_at_commit = false;
}

// ---------------------------------------------------------------------------------------------
// Small SPI helpers (inside a transaction with SPI connected)

void spi_exec(const char *sql, int expected) {
    int rc = SPI_execute(sql, false, 0);
    if (rc != expected)
        elog(ERROR, "SPI_execute failed (%s): %s", SPI_result_code_string(rc), sql);
}

void spi_exec_args(const char *sql, int nargs, Oid *types, Datum *values, int expected) {
    int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
    if (rc != expected)
        elog(ERROR, "SPI_execute_with_args failed (%s): %s", SPI_result_code_string(rc), sql);
}

bool extension_installed() {
    int rc = SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'safe_column'", true, 1);
    return rc == SPI_OK_SELECT && SPI_processed == 1;
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
// Transactions of the worker

// Every transaction of the worker opens a GUC nest level with search_path pinned, and closes it with
// abort semantics before it commits: whatever ran in the transaction (the job's expression, a trigger,
// an index function; each also inside a level of its own) cannot change a setting of the worker's
// session, not even with SET or set_config(..., false); and the worker's own queries always resolve
// names and operators in pg_catalog only.
int txn_guc_nest = 0;
bool commit_async = false;  // set by a batch: its commit need not wait for the WAL flush

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

// Run the job's SQL on a table as the table's owner, the way VACUUM, ANALYZE and CREATE INDEX run the
// owner's code: SECURITY_RESTRICTED_OPERATION, a GUC nest level of its own with search_path pinned
// (the job's expressions were resolved and schema-qualified when the job was created, so nothing
// planted in a schema later can take their place), closed with abort semantics. Always the owner, never
// the job's creator: the owner controls the triggers, index expressions, defaults and policies that
// run, and a creator with more rights (a superuser, an admin role the owner is granted to) must not
// lend them to that code. The creator could add the column only as the owner or a member of it.
struct RoleSwitch {
    Oid save_user;
    int save_sec;
    int nest;
};

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

void as_creator(Oid creator, Oid relid, RoleSwitch *rs) {
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

void back_from_creator(const RoleSwitch *rs) {
    SetUserIdAndSecContext(rs->save_user, rs->save_sec);
    // Abort semantics, as PostgreSQL after untrusted code: a SET or set_config(..., false) done by the
    // expression, a trigger or an index function does not survive into the worker's session.
    AtEOXact_GUC(false, rs->nest);
}

// Run the job's SQL (as the table's owner: within as_creator) with safe_column.batch_timeout armed as a
// statement timeout, which PostgreSQL does not arm for a background worker's SPI: an expression that
// sleeps, or waits for something that never comes, cannot hold the database's worker (and every job
// queued behind it) for ever. user_sql_timed_out says whether the last error was that timeout.
bool user_sql_timed_out = false;

int run_user_sql(const char *sql, bool read_only, int nargs, Oid *types, Datum *values) {
    user_sql_timed_out = false;
    instr_time t0 = now_instr();
    if (batch_timeout_ms > 0)
        enable_timeout_after(STATEMENT_TIMEOUT, batch_timeout_ms);
    int rc = 0;
    PG_TRY();
    {
        rc = nargs > 0 ? SPI_execute_with_args(sql, nargs, types, values, nullptr, read_only, 0)
                       : SPI_execute(sql, read_only, 0);
    }
    PG_CATCH();
    {
        if (batch_timeout_ms > 0) {
            disable_timeout(STATEMENT_TIMEOUT, false);
            user_sql_timed_out = geterrcode() == ERRCODE_QUERY_CANCELED && ms_since(t0) >= batch_timeout_ms;
        }
        PG_RE_THROW();
    }
    PG_END_TRY();
    if (batch_timeout_ms > 0)
        disable_timeout(STATEMENT_TIMEOUT, false);
    return rc;
}

// Within a GUC nest level the caller ends with AtEOXact_GUC.
void set_for_batch(const char *name, const char *value) {
    (void)set_config_option(name, value, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

// ---------------------------------------------------------------------------------------------
// The job

struct Job {
    int64 id;
    Oid relid;
    AttrNumber attnum;
    Oid creator;
    bool not_null;
    bool new_rows_get_value;
    char *fill_expr;
    char *constraint_name;
    sc::JobPhase phase;
    int sweep_passes;
    int64 pass_rows;
    char *state;
};

// The job store tables, qualified, for the current transaction only: the extension's schema is found by
// OID and locked against renames for the transaction (extension_table), never cached as a name.
char *store_table() { return extension_table("safe_column_job_store"); }
char *part_table() { return extension_table("safe_column_job_part"); }

void notify(int64 job_id) { notify_job(job_id, store_table()); }

// Load the job and lock its row for the rest of the step: pause, resume and cancel wait for the step
// to commit, and the next step sees what they did.
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

// Copy a job loaded inside a transaction into the worker's job memory context.
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

// Start a (new) sweep pass: every part from block 0 to its current end.
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
    char *upd = psprintf("UPDATE %s SET next_block = 0, end_block = $3, done = $4 WHERE job_id = $1 AND relid = $2",
                         part_table());
    for (int i = 0; i < n; i++) {
        bool exists = SearchSysCacheExists1(RELOID, ObjectIdGetDatum(parts[i]));
        BlockNumber nblocks = 0;
        if (exists) {
            Relation rel = table_open(parts[i], AccessShareLock);
            nblocks = RelationGetNumberOfBlocks(rel);
            table_close(rel, NoLock);
        }
        Oid t[4] = {INT8OID, OIDOID, INT8OID, BOOLOID};
        Datum v[4] = {Int64GetDatum(job->id), ObjectIdGetDatum(parts[i]), Int64GetDatum(static_cast<int64>(nblocks)),
                      BoolGetDatum(!exists || nblocks == 0)};
        spi_exec_args(upd, 4, t, v, SPI_OK_UPDATE);
    }
    char *job_sql = psprintf("UPDATE %s SET sweep_passes = $2, pass_rows = 0 WHERE job_id = $1", store_table());
    spi_exec_args(job_sql, 2, types, values, SPI_OK_UPDATE);
}

// ---------------------------------------------------------------------------------------------
// Live progress

struct Live {
    LiveJob *slot;
    LiveJob values;
    sc::RateMeter rows_rate;    // over wall time: batches and the pauses between them
    sc::RateMeter blocks_rate;
    TimestampTz last_batch_end;
    Oid vacuum_relid;       // the part the blocks below were filled in
    int64 vacuum_blocks;    // blocks filled there since its last VACUUM
    int64 vacuum_every;     // VACUUM it after this many
    bool skip_locked_next;  // the last batch timed out on a lock: retry its range with SKIP LOCKED
    sc::ThrottleController throttle;
    sc::SignalCache signals;  // the expensive signals, reused between samples
    // Time napped on a throttling signal, by signal, not yet recorded in the job (it is recorded in the
    // next step's transaction, and kept until that commits).
    double unrecorded_throttle_ms[sc::signal_count];
    sc::PauseDebt pause_debt;  // pauses owed in fractions of a millisecond
};

// Record the time napped on throttling signals in the job (in the current transaction).
void record_throttled(int64 job_id, const Live *live) {
    for (int k = 0; k < sc::signal_count; k++) {
        double ms = live->unrecorded_throttle_ms[k];
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

void forget_recorded_throttle(Live *live) {
    for (int k = 0; k < sc::signal_count; k++)
        live->unrecorded_throttle_ms[k] = 0;
}

void live_set_throttle(Live *live, const char *reason) {
    live->values.throttled = reason != nullptr;
    strlcpy(live->values.throttle_reason, reason ? reason : "", sizeof live->values.throttle_reason);
    live->values.updated_at = GetCurrentTimestamp();
    live_publish(live->slot, &live->values);
}

void live_set_phase(Live *live, sc::JobPhase phase) {
    strlcpy(live->values.phase, sc::phase_name(phase), sizeof live->values.phase);
    live->values.updated_at = GetCurrentTimestamp();
    live_publish(live->slot, &live->values);
}

void reset_parts(const Job *job, int passes);

// Move the job to its next phase: a sweep starts a first pass, the state follows the phase.
// True when the job is done.
bool enter_phase(Job *job, Live *live, sc::JobPhase next) {
    if (next == sc::JobPhase::sweep || next == sc::JobPhase::final_sweep)
        reset_parts(job, 1);
    set_phase(job, next);
    live_set_phase(live, next);
    return next == sc::JobPhase::done;
}

// Sleep on the latch for ms, answering SIGTERM. A reload (SIGHUP) ends the nap, since the settings
// that asked for it may have changed (safe_column.throttle = off); any other wakeup (a latch set for
// something else, e.g. before the first nap) does not cut the pause short. False when a reload did.
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

// ---------------------------------------------------------------------------------------------
// Steps. Each runs inside one transaction (begun by the caller) and says what comes next.

enum class Step { more, stop };

struct PartCursor {
    Oid relid;
    int64 next_block;
    int64 end_block;
};

bool next_part(const Job *job, PartCursor *out) {
    char *sql = psprintf(
        "SELECT relid, next_block, end_block FROM %s WHERE job_id = $1 AND NOT done ORDER BY relid LIMIT 1",
        part_table());
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(job->id)};
    spi_exec_args(sql, 1, types, values, SPI_OK_SELECT);
    if (SPI_processed == 0)
        return false;
    bool isnull;
    HeapTuple tup = SPI_tuptable->vals[0];
    out->relid = DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
    out->next_block = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
    out->end_block = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));
    return true;
}

// The core's SQL text, each call inside cpp_entry: a C++ exception (std::bad_alloc from formatting, a
// PgError from pstrdup) becomes an ERROR of the step, which fails the job, instead of escaping the
// worker's C frames (std::terminate, and crash recovery of the whole cluster).
char *core_fill_batch(const char *table, const char *column, const char *expr, int64 first, int64 end,
                      bool skip_locked) {
    return cpp_entry("safe_column worker", [&] {
        throw_injected_fault("fill_batch");
        std::string text = skip_locked ? sc::sql::fill_batch(table, column, expr, static_cast<unsigned long>(first),
                                                             static_cast<unsigned long>(end))
                                       : sc::sql::fill_batch_direct(table, column, expr,
                                                                    static_cast<unsigned long>(first),
                                                                    static_cast<unsigned long>(end));
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

enum class Ddl { add_check, validate, set_not_null, drop_constraint };

std::string core_ddl_text(Ddl which, const char *table, const char *column, const char *constraint) {
    throw_injected_fault("ddl");
    switch (which) {
    case Ddl::add_check:
        return sc::sql::add_not_null_check(table, constraint, column);
    case Ddl::validate:
        return sc::sql::validate_constraint(table, constraint);
    case Ddl::set_not_null:
        return sc::sql::set_not_null(table, column);
    case Ddl::drop_constraint:
        return sc::sql::drop_constraint(table, constraint);
    }
    return {};
}

char *core_ddl(Ddl which, const char *table, const char *column, const char *constraint) {
    return cpp_entry("safe_column worker", [&] {
        std::string text = core_ddl_text(which, table, column, constraint);
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

struct BatchResult {
    Oid relid;
    int64 part_blocks;  // end of the part's range
    int blocks;
    int64 rows;
    double ms;
    int64 wal;  // bytes of WAL the batch statement wrote
};

// One batch of the backfill or a sweep pass, on the part next_part() found.
// skip_locked: the previous attempt at this range waited too long on a row the application holds.
void run_batch(Job *job, const PartCursor &part, const char *column, int blocks, bool skip_locked, BatchResult *res) {
    char *table = qualified_name(part.relid);
    if (table == nullptr) {
        // The partition was dropped or detached: nothing left to fill there.
        char *sql = psprintf("UPDATE %s SET done = true WHERE job_id = $1 AND relid = $2", part_table());
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
    char *sql = core_fill_batch(table, column, job->fill_expr, part.next_block, end, skip_locked);

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
    as_creator(job->creator, part.relid, &rs);
    int rc = run_user_sql(sql, false, 0, nullptr, nullptr);
    back_from_creator(&rs);
    AtEOXact_GUC(false, batch_nest);
    if (rc != SPI_OK_UPDATE)
        elog(ERROR, "backfill batch failed: %s", SPI_result_code_string(rc));
    int64 rows = static_cast<int64>(SPI_processed);
    double ms = ms_since(t0);
    int64 wal = pgWalUsage.wal_bytes - wal0;
    commit_async = true;

    // The resume point and the counters, in the same transaction as the rows.
    char *upd_part = psprintf("UPDATE %s SET next_block = $3, done = $3 >= end_block WHERE job_id = $1 AND relid = $2",
                              part_table());
    Oid pt[3] = {INT8OID, OIDOID, INT8OID};
    Datum pv[3] = {Int64GetDatum(job->id), ObjectIdGetDatum(part.relid), Int64GetDatum(end)};
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
    job->pass_rows += rows;

    res->relid = part.relid;
    res->part_blocks = part.end_block;
    res->blocks = static_cast<int>(end - part.next_block);
    res->rows = rows;
    res->ms = ms;
    res->wal = wal;
}

bool constraint_exists(Oid relid, const char *name, bool *validated) {
    Oid types[2] = {OIDOID, NAMEOID};
    Datum values[2] = {ObjectIdGetDatum(relid), DirectFunctionCall1(namein, CStringGetDatum(name))};
    spi_exec_args("SELECT convalidated FROM pg_catalog.pg_constraint WHERE conrelid = $1 AND conname = $2", 2, types,
                  values, SPI_OK_SELECT);
    if (SPI_processed == 0)
        return false;
    bool isnull;
    *validated = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    return true;
}

// One DDL step of the NOT NULL sequence, with the queue-safe lock, as the creator.
void run_ddl_step(Job *job, const char *column) {
    char *table = qualified_name(job->relid);
    const char *con = quote_identifier(job->constraint_name);
    char *what = psprintf("%s of safe_column job " INT64_FORMAT, sc::phase_name(job->phase), job->id);
    bool validated = false;
    bool exists = constraint_exists(job->relid, job->constraint_name, &validated);
    RoleSwitch rs;
    switch (job->phase) {
    case sc::JobPhase::add_check:
        if (!exists) {
            (void)lock_queue_safe(job->relid, AccessExclusiveLock, true, what);
            as_creator(job->creator, job->relid, &rs);
            run_extension_ddl(core_ddl(Ddl::add_check, table, column, con));
            back_from_creator(&rs);
        }
        break;
    case sc::JobPhase::validate:
        if (exists && !validated) {
            (void)lock_queue_safe(job->relid, ShareUpdateExclusiveLock, true, what);
            as_creator(job->creator, job->relid, &rs);
            run_extension_ddl(core_ddl(Ddl::validate, table, column, con));
            back_from_creator(&rs);
        }
        break;
    case sc::JobPhase::set_not_null:
        (void)lock_queue_safe(job->relid, AccessExclusiveLock, true, what);
        as_creator(job->creator, job->relid, &rs);
        run_extension_ddl(core_ddl(Ddl::set_not_null, table, column, con));
        run_extension_ddl(core_ddl(Ddl::drop_constraint, table, column, con));
        back_from_creator(&rs);
        break;
    default:
        break;
    }
}

// VACUUM (SKIP_LOCKED) one table, as a top-level command of the worker: VACUUM manages its own
// transactions, so this runs between steps, with no transaction open. Without TRUNCATE: cutting off
// empty pages at the end takes ACCESS EXCLUSIVE on the table (and, replayed on a standby, cancels or
// blocks its queries on it); a backfill leaves few such pages, autovacuum may take them later.
// A failure is logged, not fatal: the backfill goes on, only the space is not reused.
void vacuum_part(Oid relid) {
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
}

// Mark the job failed (in its own transaction).
void fail_job(int64 job_id, const char *message, const Live *live) {
    begin_txn("safe_column: recording a failed job");
    record_throttled(job_id, live);
    char *sql = psprintf(
        "UPDATE %s SET state = 'failed', error = $2, finished_at = pg_catalog.clock_timestamp() WHERE job_id = $1",
        store_table());
    Oid types[2] = {INT8OID, TEXTOID};
    Datum values[2] = {Int64GetDatum(job_id), CStringGetTextDatum(message)};
    spi_exec_args(sql, 2, types, values, SPI_OK_UPDATE);
    notify(job_id);
    commit_txn();
}

// A NOT NULL job that fails after adding its CHECK (col IS NOT NULL) NOT VALID must not leave it in
// place: every application UPDATE of a row still NULL would fail. It is removed (queue-safe lock), and
// the job goes back to its final sweep, so that a resume fills the rows and adds it again. A validated
// CHECK stays: every row has a value then, and SET NOT NULL needs it to skip its scan.
void remove_helper_after_failure(Job *job) {
    if (job->constraint_name == nullptr)
        return;
    MemoryContext oldcxt = CurrentMemoryContext;
    PG_TRY();
    {
        begin_txn("safe_column: removing the helper constraint of a failed job");
        bool validated = false;
        char *table = qualified_name(job->relid);
        if (table != nullptr && constraint_exists(job->relid, job->constraint_name, &validated) && !validated) {
            (void)lock_queue_safe(job->relid, AccessExclusiveLock, true, "remove the helper constraint of a failed job");
            run_extension_ddl(core_ddl(Ddl::drop_constraint, table, "", quote_identifier(job->constraint_name)));
            reset_parts(job, job->sweep_passes + 1);
            char *sql = psprintf("UPDATE %s SET phase = 'final_sweep' WHERE job_id = $1", store_table());
            Oid types[1] = {INT8OID};
            Datum values[1] = {Int64GetDatum(job->id)};
            spi_exec_args(sql, 1, types, values, SPI_OK_UPDATE);
        }
        commit_txn();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(oldcxt);
        ErrorData *edata = CopyErrorData();
        FlushErrorState();
        AbortCurrentTransaction();
        ereport(WARNING, (errmsg("could not remove the helper constraint \"%s\" of failed safe_column job " INT64_FORMAT
                                 ": %s", job->constraint_name, job->id, edata->message),
                          errhint("Cancel the job with safe_column_cancel(" INT64_FORMAT "), which removes it.", job->id)));
    }
    PG_END_TRY();
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
    as_creator(p->creator, p->relid, &rs);
    Oid types[1] = {TIDOID};
    Datum values[1] = {p->tid};
    int rc = run_user_sql(p->sql, true, 1, types, values);
    back_from_creator(&rs);
    if (rc == SPI_OK_SELECT && SPI_processed == 1) {
        bool isnull;
        p->is_null = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    }
}

// After an expression error in a batch: find the first row of the batch's range where the expression
// fails, each row evaluated in a subtransaction, so the error can name it. For a NOT NULL job, a row
// where the expression gives NULL is the cause too (the batch then violates the helper CHECK).
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
    as_creator(job->creator, part->relid, &rs);
    int rc = SPI_execute(rows_sql, true, 0);
    back_from_creator(&rs);
    if (rc != SPI_OK_SELECT)
        return nullptr;
    SPITupleTable *rows = SPI_tuptable;
    uint64 n = SPI_processed;
    for (uint64 i = 0; i < n && found == nullptr; i++) {
        bool isnull;
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

// Errors a step retries, at most safe_column.max_retries times in a row (an expression can raise any of
// them on purpose: unbounded, that would hold the database's worker, and every job queued behind it).
bool transient_error(int sqlerrcode) {
    return sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE || sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
           sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE || sqlerrcode == ERRCODE_QUERY_CANCELED ||
           sqlerrcode == ERRCODE_OBJECT_IN_USE;
}

const char *transient_error_name(int sqlerrcode) {
    switch (sqlerrcode) {
    case ERRCODE_LOCK_NOT_AVAILABLE:
        return "a lock timeout";
    case ERRCODE_T_R_DEADLOCK_DETECTED:
        return "a deadlock";
    case ERRCODE_T_R_SERIALIZATION_FAILURE:
        return "a serialization failure";
    case ERRCODE_QUERY_CANCELED:
        return "a cancel";
    default:
        return "an object in use";
    }
}

constexpr long throttle_nap_ms = 500;

enum class ThrottleOutcome { go, waiting, paused };

// Before each step: read the signals (the expensive ones at most once per safe_column.sample_interval)
// and ask the controller. On waiting, *signal says on which (the worker records the time it then naps);
// a critical signal pauses the job for a human.
// The controller's decision as plain data (its reason copied out of the std::string in the core's
// result), so that no C++ object lives across the PostgreSQL calls that act on it.
struct GateDecision {
    sc::ThrottleDecision::Kind kind;
    sc::SignalKind signal;
    char *reason;  // palloc'd; NULL for go
};

GateDecision core_decide(sc::ThrottleController *throttle, const sc::SignalReading *readings, int n, double now_s) {
    return cpp_entry("safe_column worker", [&] {
        throw_injected_fault("throttle");
        sc::ThrottleDecision d = throttle->decide(readings, n, now_s, critical_duration_ms / 1000.0);
        GateDecision out{d.kind, d.signal, nullptr};
        if (d.kind != sc::ThrottleDecision::Kind::go)
            out.reason = pg_call([&] { return pstrdup(d.reason.c_str()); });
        return out;
    });
}

ThrottleOutcome throttle_gate(Job *job, Live *live, sc::SignalKind *signal) {
    sc::SignalReading readings[sc::signal_count];
    double now_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    bool sampled = false;
    instr_time t0 = now_instr();
    int n = sample_signals(readings, job->relid, &live->signals, now_s, &sampled);
    double sample_ms = ms_since(t0);
    if (sampled)
        live->values.sample_ms = sample_ms;  // what the last full sample cost
    GateDecision d = core_decide(&live->throttle, readings, n, now_s);
    if (d.kind == sc::ThrottleDecision::Kind::go)
        return ThrottleOutcome::go;
    char *reason = d.reason;
    if (d.kind == sc::ThrottleDecision::Kind::pause) {
        char *sql = psprintf("UPDATE %s SET state = 'paused', pause_reason = $2 WHERE job_id = $1", store_table());
        Oid types[2] = {INT8OID, TEXTOID};
        Datum values[2] = {Int64GetDatum(job->id), CStringGetTextDatum(reason)};
        spi_exec_args(sql, 2, types, values, SPI_OK_UPDATE);
        notify(job->id);
        ereport(LOG, (errmsg("safe_column job " INT64_FORMAT " paused: %s", job->id, reason)));
        live_set_throttle(live, reason);
        return ThrottleOutcome::paused;
    }
    *signal = d.signal;
    live_set_throttle(live, reason);
    return ThrottleOutcome::waiting;
}

// Run one job until it is complete, paused, cancelled or failed.
void run_job(int64 job_id) {
    MemoryContext jobcxt = AllocSetContextCreate(TopMemoryContext, "safe_column job", ALLOCSET_DEFAULT_SIZES);
    MemoryContext stepcxt = AllocSetContextCreate(jobcxt, "safe_column step", ALLOCSET_DEFAULT_SIZES);
    // Everything that changes inside PG_TRY and is read after an error lives in memory, not in
    // registers that a longjmp would restore.
    Job &job = *static_cast<Job *>(MemoryContextAllocZero(jobcxt, sizeof(Job)));
    bool loaded = false;

    begin_txn("safe_column: starting a job");
    if (load_job(job_id, &job)) {
        keep_job(&job, jobcxt);
        loaded = true;
        char *sql = psprintf("UPDATE %s SET started_at = coalesce(started_at, pg_catalog.clock_timestamp())"
                             " WHERE job_id = $1",
                             store_table());
        Oid types[1] = {INT8OID};
        Datum values[1] = {Int64GetDatum(job_id)};
        spi_exec_args(sql, 1, types, values, SPI_OK_UPDATE);
        if (strcmp(job.state, "queued") == 0) {
            set_phase(&job, job.phase);
            MemoryContext old = MemoryContextSwitchTo(jobcxt);
            job.state = pstrdup(sc::state_for_phase(job.phase));
            MemoryContextSwitchTo(old);
        }
    }
    commit_txn();
    if (!loaded) {
        MemoryContextDelete(jobcxt);
        return;
    }

    sc::BatchSizerConfig bcfg;
    bcfg.target_ms = effective_batch_target_ms();
    sc::BatchSizer &sizer = *new (MemoryContextAllocZero(jobcxt, sizeof(sc::BatchSizer))) sc::BatchSizer(bcfg);
    Live &live = *new (MemoryContextAllocZero(jobcxt, sizeof(Live))) Live{};
    live.slot = live_claim(MyDatabaseId, job_id);
    live.values.job_id = job_id;
    live.values.rows_per_sec = -1;
    live.values.blocks_per_sec = -1;
    live_set_phase(&live, job.phase);
    int transient_failures = 0;
    int renamed_retries = 0;  // a name that vanished between a step's check and its statement

    for (;;) {
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        sizer.set_target_ms(effective_batch_target_ms());
        MemoryContextReset(stepcxt);
        MemoryContext oldcxt = MemoryContextSwitchTo(stepcxt);

        // The job's overrides of the settings apply to this step only (a reload between steps is
        // never undone by putting stale values back).
        SettingsSnapshot server_settings;
        save_settings(&server_settings);
        volatile Step step = Step::more;
        volatile double pause_ms = 0;
        ErrorData *volatile err = nullptr;
        PartCursor &failed_part = *static_cast<PartCursor *>(palloc0(sizeof(PartCursor)));
        volatile int64 failed_end = 0;
        volatile bool in_batch = false;
        volatile bool throttle_recorded = false;
        volatile int waited_on = -1;  // the signal this step waits on
        volatile double wal_rate_cap = 0;  // bytes per second this step's job may write (0: no limit)
        volatile bool pacing = false;      // pause_ms paces the batches (not a wait for a signal or for locks)
        const instr_time step_start = now_instr();
        PG_TRY();
        {
            begin_txn("safe_column: checking the job");
            Job now{};
            char *column = nullptr;
            bool loaded_now = load_job(job_id, &now);
            if (loaded_now) {
                record_throttled(job_id, &live);
                throttle_recorded = true;
            }
            if (!loaded_now) {
                step = Step::stop;  // the job row is gone (the extension was dropped)
            } else if (strcmp(now.state, "paused") == 0 || strcmp(now.state, "cancelled") == 0 ||
                       strcmp(now.state, "failed") == 0 || strcmp(now.state, "complete") == 0) {
                step = Step::stop;
            } else if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(now.relid))) {
                ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("the table of the job was dropped")));
            } else if ((column = live_attname(now.relid, now.attnum)) == nullptr) {
                ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN), errmsg("the column of the job was dropped")));
            } else if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(now.creator))) {
                ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                                errmsg("the role that created the job no longer exists")));
            }
            if (step == Step::more) {
                apply_overrides(job_id, store_table());
                sizer.set_target_ms(effective_batch_target_ms());
                const char *qcolumn = quote_identifier(column);
                job.phase = now.phase;
                job.sweep_passes = now.sweep_passes;
                job.pass_rows = now.pass_rows;
                MemoryContext old = MemoryContextSwitchTo(jobcxt);
                job.state = pstrdup(now.state);
                MemoryContextSwitchTo(old);
                ThrottleOutcome gate = ThrottleOutcome::go;
                sc::SignalKind signal = sc::SignalKind::checkpoint_wal;
                if (throttle_enabled && job.phase != sc::JobPhase::done)
                    gate = throttle_gate(&job, &live, &signal);
                if (gate == ThrottleOutcome::paused) {
                    step = Step::stop;
                } else if (gate == ThrottleOutcome::waiting) {
                    pause_ms = throttle_nap_ms;
                    waited_on = static_cast<int>(signal);
                } else switch (job.phase) {
                case sc::JobPhase::backfill:
                case sc::JobPhase::sweep:
                case sc::JobPhase::final_sweep: {
                    BatchResult res{};
                    int blocks = sizer.next_blocks();
                    PartCursor cur{};
                    in_batch = next_part(&job, &cur);
                    failed_part = cur;
                    failed_end = cur.next_block + blocks;
                    if (in_batch) {
                        run_batch(&job, cur, qcolumn, blocks, live.skip_locked_next, &res);
                        in_batch = false;
                        live.skip_locked_next = false;
                        sizer.observe(res.blocks, res.ms);
                        TimestampTz now_ts = GetCurrentTimestamp();
                        double wall_s = live.last_batch_end != 0
                                            ? static_cast<double>(now_ts - live.last_batch_end) / 1e6
                                            : res.ms / 1000.0;
                        live.last_batch_end = now_ts;
                        live.rows_rate.add(static_cast<double>(res.rows), wall_s + 1e-6);
                        live.blocks_rate.add(static_cast<double>(res.blocks), wall_s + 1e-6);
                        if (throttle_enabled) {
                            // The sleep ratio, or longer if the step's WAL needs it to stay within
                            // safe_column.max_wal_rate (the job's own value: overrides end with the step).
                            wal_rate_cap = max_wal_rate_kb * 1024.0;
                            pacing = true;
                            pause_ms = std::max(sc::pause_after_batch_ms(res.ms, batch_sleep_ratio),
                                                sc::pause_for_wal_rate_ms(static_cast<double>(res.wal),
                                                                          ms_since(step_start), wal_rate_cap));
                        }
                        if (res.relid != live.vacuum_relid) {
                            live.vacuum_relid = res.relid;
                            live.vacuum_blocks = 0;
                            live.vacuum_every = res.part_blocks / 10 > 1024 ? res.part_blocks / 10 : 1024;
                        }
                        live.vacuum_blocks += res.blocks;
                        live.values.batch_blocks = res.blocks;
                        live.values.batch_rows = res.rows;
                        live.values.last_batch_ms = res.ms;
                        if (job.phase == sc::JobPhase::backfill) {
                            live.values.blocks_done += res.blocks;
                            live.values.rows_per_sec = live.rows_rate.rate().value_or(-1);
                            live.values.blocks_per_sec = live.blocks_rate.rate().value_or(-1);
                        }
                    } else {
                        in_batch = false;
                        // The pass is over.
                        sc::JobPhase next = job.phase;
                        if (job.phase == sc::JobPhase::backfill) {
                            next = sc::next_phase(job.phase, job.not_null);
                        } else {
                            // A pass that filled no row found none to fill (a sweep waits for locked rows
                            // rather than skip them); one that filled some is followed by another. For the
                            // final sweep, VALIDATE checks the rest: a NULL left there sends it back here.
                            sc::SweepOutcome outcome;
                            outcome.rows_filled = job.pass_rows;
                            outcome.nulls_left = job.pass_rows > 0;
                            sc::PhaseInputs in;
                            in.not_null = job.not_null;
                            in.new_rows_get_value = job.new_rows_get_value;
                            in.sweep_passes = job.sweep_passes;
                            sc::SweepNext what = sc::after_sweep(job.phase, outcome, in);
                            if (what == sc::SweepNext::next_phase) {
                                next = sc::next_phase(job.phase, job.not_null);
                            } else {
                                reset_parts(&job, job.sweep_passes + 1);
                                if (what == sc::SweepNext::wait_and_pass) {
                                    pause_ms = 1000;
                                    live_set_throttle(&live, "rows locked by other transactions");
                                }
                            }
                        }
                        if (next != job.phase && enter_phase(&job, &live, next))
                            step = Step::stop;
                    }
                    break;
                }
                case sc::JobPhase::add_check:
                case sc::JobPhase::validate:
                case sc::JobPhase::set_not_null: {
                    run_ddl_step(&job, qcolumn);
                    if (enter_phase(&job, &live, sc::next_phase(job.phase, job.not_null)))
                        step = Step::stop;
                    break;
                }
                case sc::JobPhase::done:
                    set_phase(&job, sc::JobPhase::done);
                    step = Step::stop;
                    break;
                }
            }
            commit_txn();
        }
        PG_CATCH();
        {
            in_safe_column_ddl = false;
            MemoryContextSwitchTo(jobcxt);
            err = CopyErrorData();
            FlushErrorState();
            AbortCurrentTransaction();
        }
        PG_END_TRY();
        MemoryContextSwitchTo(oldcxt);
        restore_settings(&server_settings);
        // The job's SQL ran past safe_column.batch_timeout: a failure of the job, not a cancel to retry.
        bool timed_out = err != nullptr && user_sql_timed_out;
        user_sql_timed_out = false;

        if (err != nullptr) {
            if (job.phase == sc::JobPhase::validate && err->sqlerrcode == ERRCODE_CHECK_VIOLATION) {
                // A NULL arrived before the CHECK was in place and after the last pass saw its page:
                // one more final sweep.
                FreeErrorData(err);
                begin_txn("safe_column: back to the final sweep");
                reset_parts(&job, job.sweep_passes + 1);
                set_phase(&job, sc::JobPhase::final_sweep);
                commit_txn();
                live_set_phase(&live, sc::JobPhase::final_sweep);
                continue;
            }
            if (transient_error(err->sqlerrcode) && !timed_out && transient_failures < max_retries) {
                transient_failures++;
                // The backfill skips rows the application keeps locked (the sweep comes back for them);
                // a sweep waits for them, retrying the same range, so that no existing row is left out.
                if (in_batch && err->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE && job.phase == sc::JobPhase::backfill)
                    live.skip_locked_next = true;
                sizer.failed();
                // Every role of the database reads this reason: the kind of error, never its text (which
                // can quote a row's values); safe_column_jobs.error shows the text to those who may see it.
                char reason[192];
                if (in_batch && err->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
                    strlcpy(reason, "rows locked by other transactions", sizeof reason);
                else
                    snprintf(reason, sizeof reason, "retrying after %s (SQLSTATE %s), retry %d of %d",
                             transient_error_name(err->sqlerrcode), unpack_sql_state(err->sqlerrcode),
                             transient_failures, max_retries);
                live_set_throttle(&live, reason);
                nap(transient_failures < 10 ? 100L * transient_failures : 1000L);
                FreeErrorData(err);
                continue;
            }
            char *volatile message = err->message;
            if (timed_out)
                message = psprintf("a statement of the job ran longer than safe_column.batch_timeout (%d ms)",
                                   batch_timeout_ms);
            volatile bool gave_up = !timed_out && transient_error(err->sqlerrcode);
            bool gone = false;
            if (err->sqlerrcode == ERRCODE_UNDEFINED_COLUMN || err->sqlerrcode == ERRCODE_UNDEFINED_TABLE) {
                // The table or the column went away between the step's check and its statement: say so.
                begin_txn("safe_column: checking the job's table");
                const char *why = !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(job.relid))
                                      ? "the table of the job was dropped"
                                  : live_attname(job.relid, job.attnum) == nullptr ? "the column of the job was dropped"
                                                                                  : nullptr;
                commit_txn();
                if (why != nullptr) {
                    message = const_cast<char *>(why);
                    gone = true;
                } else if (renamed_retries++ < 3) {
                    // Both still exist: renamed meanwhile. The next step resolves the new names. (An
                    // expression naming a dropped column fails the same way every time: after 3 tries.)
                    FreeErrorData(err);
                    nap(100L);
                    continue;
                }
            }
            if (!gone && !timed_out && failed_part.relid != InvalidOid && failed_end > failed_part.next_block) {
                // Find the row: in a fresh transaction, row by row over the failed batch's range.
                MemoryContext old = MemoryContextSwitchTo(stepcxt);
                PG_TRY();
                {
                    begin_txn("safe_column: locating the row that failed");
                    char *column = live_attname(job.relid, job.attnum);
                    char *row = column ? find_failing_row(&job, quote_identifier(column), &failed_part, failed_end)
                                       : nullptr;
                    if (row != nullptr) {
                        MemoryContext o2 = MemoryContextSwitchTo(jobcxt);
                        message = pstrdup(row);
                        MemoryContextSwitchTo(o2);
                    }
                    commit_txn();
                }
                PG_CATCH();
                {
                    FlushErrorState();
                    AbortCurrentTransaction();
                }
                PG_END_TRY();
                MemoryContextSwitchTo(old);
            }
            if (gave_up)
                message = psprintf("gave up after %d retries (safe_column.max_retries): %s", transient_failures,
                                   message);
            ereport(LOG, (errmsg("safe_column job " INT64_FORMAT " failed: %s", job_id, message)));
            fail_job(job_id, message, &live);
            remove_helper_after_failure(&job);
            break;
        }
        transient_failures = 0;
        renamed_retries = 0;
        if (throttle_recorded)
            forget_recorded_throttle(&live);  // committed
        if (live.values.throttled && pause_ms < throttle_nap_ms)
            live_set_throttle(&live, nullptr);
        else
            live_publish(live.slot, &live.values);
        if (step == Step::stop)
            break;
        // Every UPDATE leaves a dead row version behind; on full pages the new versions go to new pages
        // and the table would double. A VACUUM of what was filled so far lets the next batches reuse
        // that space. Part of the calm way of working: skipped when safe_column.throttle is off.
        if (throttle_enabled && live.vacuum_relid != InvalidOid && live.vacuum_blocks >= live.vacuum_every) {
            live.vacuum_blocks = 0;
            int64 wal0 = pgWalUsage.wal_bytes;
            instr_time v0 = now_instr();
            vacuum_part(live.vacuum_relid);
            // The VACUUM's WAL counts towards safe_column.max_wal_rate too.
            pause_ms += sc::pause_for_wal_rate_ms(static_cast<double>(pgWalUsage.wal_bytes - wal0), ms_since(v0),
                                                  wal_rate_cap);
        }
        // Naps come in whole milliseconds: a pause that paces the batches, if shorter, is owed until such
        // pauses add up to one (a 1 ms batch at sleep ratio 0.5 naps 1 ms every other step), and the
        // time actually napped is paid off. A wait (for a throttling signal, for locked rows) naps as
        // asked. The time throttled is the time actually napped (a reload may cut a nap short; a busy
        // machine may make it longer), recorded in the job by the next step.
        long nap_ms = pacing ? live.pause_debt.owe(pause_ms) : static_cast<long>(std::ceil(pause_ms));
        if (nap_ms > 0) {
            instr_time nap_start = now_instr();
            bool whole = nap(nap_ms);
            double napped_ms = ms_since(nap_start);
            if (pacing)
                live.pause_debt.paid(napped_ms);
            if (!whole || !throttle_enabled)
                live.pause_debt = sc::PauseDebt{};  // reloaded: what is owed follows the new settings
            if (waited_on >= 0)
                live.unrecorded_throttle_ms[waited_on] += napped_ms;
        }
    }
    live_release(live.slot);
    MemoryContextDelete(jobcxt);
}

// The next job this database's worker should run (0: none).
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

bool try_worker_lock() {
    char *sql = psprintf("SELECT pg_catalog.pg_try_advisory_lock(" INT64_FORMAT ")", worker_lock_key);
    spi_exec(sql, SPI_OK_SELECT);
    bool isnull;
    return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

void release_worker_lock() {
    char *sql = psprintf("SELECT pg_catalog.pg_advisory_unlock(" INT64_FORMAT ")", worker_lock_key);
    spi_exec(sql, SPI_OK_SELECT);
}

}  // namespace

// The last line of defence of a background worker's main loop: every step's C++ is guarded where it
// runs (cpp_entry around each core call), so nothing should get here. If a C++ exception does, it may
// have left PG_TRY frames without their PG_END_TRY: the error stacks are put back as they were, and the
// worker exits with FATAL (exit code 1: the postmaster restarts it, the cluster stays up), never through
// std::terminate (SIGABRT: crash recovery of every database).
void worker_guard(const char *who, void (*loop)()) {
    sigjmp_buf *save_exception_stack = PG_exception_stack;
    ErrorContextCallback *save_context_stack = error_context_stack;
    char message[512] = "unknown C++ exception";
    bool caught = false;
    try {
        loop();
    } catch (const std::exception &e) {
        caught = true;
        strlcpy(message, e.what(), sizeof message);
    } catch (...) {
        caught = true;
    }
    if (caught) {
        PG_exception_stack = save_exception_stack;
        error_context_stack = save_context_stack;
        ereport(FATAL, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("%s: unexpected C++ exception: %s", who, message)));
    }
}

namespace {

// What the worker finds when it looks for work.
enum class Look { no_extension, other_worker, no_job, job };

Look look_for_work(bool *have_lock, int64 *job_id) {
    Look result;
    begin_txn("safe_column: looking for jobs");
    if (!extension_installed()) {
        result = Look::no_extension;
    } else {
        if (!*have_lock)
            *have_lock = try_worker_lock();
        if (!*have_lock) {
            result = Look::other_worker;
        } else {
            *job_id = next_runnable_job();
            result = *job_id ? Look::job : Look::no_job;
        }
    }
    commit_txn();
    return result;
}

void worker_loop() {
    bool have_lock = false;
    for (;;) {
        int64 job_id = 0;
        Look look = look_for_work(&have_lock, &job_id);
        if (look == Look::no_extension || look == Look::other_worker)
            return;
        if (look == Look::no_job) {
            // Let go of the lock, then look once more: a job committed while we decided to stop would
            // otherwise find its new worker turned away by our lock.
            begin_txn("safe_column: leaving");
            release_worker_lock();
            commit_txn();
            have_lock = false;
            look = look_for_work(&have_lock, &job_id);
            if (look != Look::job)
                return;
        }
        run_job(job_id);
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

void start_worker_at_commit() {
    if (!wake_at_commit || GetCurrentTransactionNestLevel() < wake_nest_level)
        wake_nest_level = GetCurrentTransactionNestLevel();
    wake_at_commit = true;
}

void register_xact_callbacks() {
    RegisterXactCallback(xact_callback, nullptr);
    RegisterSubXactCallback(subxact_callback, nullptr);
}

bool start_db_worker(Oid dboid) {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof(worker));
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 2;  // after a crash or a SIGTERM, resume within seconds
    strlcpy(worker.bgw_library_name, "safe_column", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "safe_column_worker_main", BGW_MAXLEN);
    snprintf(worker.bgw_name, BGW_MAXLEN, "safe_column worker for database %u", dboid);
    strlcpy(worker.bgw_type, "safe_column worker", BGW_MAXLEN);
    worker.bgw_main_arg = ObjectIdGetDatum(dboid);
    worker.bgw_notify_pid = 0;
    return RegisterDynamicBackgroundWorker(&worker, nullptr);
}

void register_launcher() {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof(worker));
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 10;
    strlcpy(worker.bgw_library_name, "safe_column", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "safe_column_launcher_main", BGW_MAXLEN);
    strlcpy(worker.bgw_name, "safe_column launcher", BGW_MAXLEN);
    strlcpy(worker.bgw_type, "safe_column launcher", BGW_MAXLEN);
    RegisterBackgroundWorker(&worker);
}

}  // namespace sc::pg

extern "C" {

PGDLLEXPORT void safe_column_worker_main(Datum arg);
PGDLLEXPORT void safe_column_launcher_main(Datum arg);

void safe_column_worker_main(Datum arg) {
    Oid dboid = DatumGetObjectId(arg);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    // Its database is being dropped (or renamed): exit for good, not "database does not exist" every
    // few seconds. The session that holds it asks for a worker again if the database stays.
    if (sc::pg::database_held(dboid))
        proc_exit(0);
    BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
    // A database (or role) made read-only by default must not turn every start of the worker into an
    // error and a restart: a queued job was asked for by someone who could write.
    SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
    pgstat_report_appname("safe_column worker");
    // Batches and bookkeeping are short statements: compiling them would cost more than it saves.
    SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
    // The worker is a superuser: its own queries (bookkeeping, throttling signals, the throttle query)
    // must never resolve a name to an object a role planted in a schema of the default search_path
    // (an aggregate count(integer) in public would otherwise run as superuser).
    SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);

    sc::pg::worker_guard("safe_column worker", sc::pg::worker_loop);
    proc_exit(0);
}

// The launcher's work once connected: a worker for every database once at server start (a worker exits
// at once where there is no unfinished job), then retries of databases whose worker could not be
// registered when asked.
static void launcher_loop() {
    StartTransactionCommand();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        Form_pg_database db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tup));
        if (!db->datallowconn || db->datistemplate)
            continue;
        if (!sc::pg::start_db_worker(db->oid))
            sc::pg::want_database(db->oid);
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    CommitTransactionCommand();

    for (;;) {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        Oid wanted[sc::pg::max_wanted_dbs];
        int n = sc::pg::take_wanted_databases(wanted, sc::pg::max_wanted_dbs);
        for (int i = 0; i < n; i++)
            if (!sc::pg::start_db_worker(wanted[i]))
                sc::pg::want_database(wanted[i]);  // no free slot yet: try again in a second
    }
}

void safe_column_launcher_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    sc::pg::launcher_set_latch(MyLatch);
    sc::pg::worker_guard("safe_column launcher", launcher_loop);
}

}  // extern "C"
