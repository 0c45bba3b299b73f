// The job runner: one job's life as a state machine. Each step is one transaction: load and check the
// job, apply its setting overrides, ask the throttle, then run the step of the job's phase from the
// phase table (one function per kind of step, sc::step_kind), which does one thing and says what comes
// next; the transitions themselves are the pure core's (core/job_phase). The generic step loop
// (run_job) owns the transaction, the error guard, the settings snapshot, the live progress, the
// VACUUMs and the pacing, and knows nothing of what a phase does.
//
// C-like on purpose: no C++ object with a destructor lives across a PostgreSQL call. The core's classes
// used here are trivially destructible, and what the loop needs after an error lives in a Run and a
// StepState in the job's memory (never in locals that a longjmp would restore).
#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "core/batch_sizer.hpp"
#include "core/job_phase.hpp"
#include "core/rate_meter.hpp"
#include "core/signal_cache.hpp"
#include "core/throttle.hpp"
#include "pg/add_column.hpp"
#include "pg/batch.hpp"
#include "pg/ddl_step.hpp"
#include "pg/index_build.hpp"
#include "pg/staged_constraints.hpp"
#include "pg/guard.hpp"
#include "pg/job_live.hpp"
#include "pg/job_row.hpp"
#include "pg/job_runner.hpp"
#include "pg/jobs.hpp"
#include "pg/overrides.hpp"
#include "pg/shmem.hpp"
#include "pg/signals.hpp"
#include "pg/worker.hpp"
#include "pg/worker_session.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

static_assert(std::is_trivially_destructible_v<sc::BatchSizer>, "lives across PostgreSQL calls");
static_assert(std::is_trivially_destructible_v<sc::RateMeter>, "lives across PostgreSQL calls");
static_assert(std::is_trivially_destructible_v<sc::ThrottleController>, "lives across PostgreSQL calls");
static_assert(std::is_trivially_destructible_v<sc::SignalCache>, "lives across PostgreSQL calls");
static_assert(std::is_trivially_destructible_v<sc::PauseDebt>, "lives across PostgreSQL calls");
// The core calls the worker makes outside cpp_entry cannot throw (the others go through core_* below).
static_assert(std::is_trivially_destructible_v<sc::pg::Job>, "lives across PostgreSQL calls");
static_assert(noexcept(std::declval<sc::BatchSizer &>().observe(0, 0.0)) &&
                  noexcept(std::declval<sc::BatchSizer &>().failed()) &&
                  noexcept(std::declval<sc::BatchSizer &>().set_target_ms(0.0)) &&
                  noexcept(std::declval<sc::RateMeter &>().add(0.0, 0.0)) &&
                  noexcept(std::declval<sc::RateMeter &>().rate()) &&
                  noexcept(std::declval<sc::PauseDebt &>().owe(0.0)) && noexcept(sc::effective_target_ms(0.0, true)) &&
                  noexcept(sc::phase_from_name("", nullptr)) && noexcept(sc::phase_name(sc::JobPhase::done)) &&
                  noexcept(sc::state_for_phase(sc::JobPhase::done)) &&
                  noexcept(sc::next_phase(sc::JobPhase::done, false, false)) &&
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

double effective_batch_target_ms() {
    return sc::effective_target_ms(batch_target_ms, throttle_enabled);
}

// Move the job to its next phase: a sweep starts a first pass, the state follows the phase.
// True when the job is done.
bool enter_phase(Job *job, Live *live, sc::JobPhase next) {
    if (next == sc::JobPhase::sweep || next == sc::JobPhase::final_sweep)
        reset_parts(job, 1);
    set_phase(job, next);
    live_set_phase(live, next);
    return next == sc::JobPhase::done;
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

// ---------------------------------------------------------------------------------------------
// The state of a run, and of one step

// What one job's run keeps from step to step (in the job's memory context).
struct Run {
    int64 job_id;
    MemoryContext jobcxt;
    Job job;
    Live live;
    sc::BatchSizer sizer;
    sc::WalPerBlock wal_per_block;  // for the checkpoint limit: batches sized to the WAL left below it
    int transient_failures;  // retries in a row, up to safe_column.max_retries
    int renamed_retries;     // a name that vanished between a step's check and its statement
};

// What one step did, and what the loop needs from it after an error (in the job's memory context: it
// is written inside PG_TRY and read after a longjmp).
struct StepState {
    bool stop;               // the job is done with this worker: complete, paused, cancelled, gone
    double pause_ms;         // nap after the step
    bool pacing;             // pause_ms paces batches (owed in fractions of a millisecond), not a wait
    int waited_on;           // the throttling signal the nap waits on (-1: none)
    double wal_rate_cap;     // bytes per second this step's job may write (0: no limit)
    bool throttle_recorded;  // the naps on signals so far are recorded in the job (committed with the step)
    bool in_batch;           // an error came from the batch statement
    PartCursor batch_part;   // the part and range of the step's batch
    int64 batch_end;
    instr_time started;
    // The job's own values of the settings the VACUUM after the step follows (its overrides end with
    // the step): safe_column.throttle and safe_column.checkpoint_wal_share.
    bool throttle_on;
    double checkpoint_share;
};

// ---------------------------------------------------------------------------------------------
// The phase table: one function per kind of step. Each runs inside the step's transaction, on a job
// whose row is locked and checked, and says in *st what comes next.

using PhaseStep = void (*)(Run *run, const char *column, StepState *st);

// A fill pass found no part left: the next phase, or another pass (sc::after_pass decides).
void end_of_pass(Run *run, StepState *st) {
    Job *job = &run->job;
    sc::PhaseInputs in;
    in.not_null = job->not_null;
    in.staged_constraints = job->has_staged;
    in.staged_index = job->has_index;
    in.staged_identity = job->has_identity;
    in.new_rows_get_value = job->new_rows_get_value;
    in.sweep_passes = job->sweep_passes;
    sc::PassEnd end = sc::after_pass(job->phase, job->pass_rows, in);
    if (end.new_pass) {
        reset_parts(job, job->sweep_passes + 1);
        if (end.wait_first) {
            st->pause_ms = 1000;
            live_set_throttle(&run->live, "rows locked by other transactions");
        }
    } else if (end.next != job->phase && enter_phase(job, &run->live, end.next)) {
        st->stop = true;
    }
}

// The pause after a batch: the sleep ratio, or longer if the step's WAL needs it to keep to the WAL
// rate, the lower of safe_column.max_wal_rate and the checkpoint pace (the job's own values: overrides
// end with the step). While the checkpoint pace is what holds the job, its reason says so (not
// throttled: a pace, not a wait).
void pace_batch(Run *run, const BatchResult &res, StepState *st) {
    CheckpointPace pace = checkpoint_pace();
    double cap = max_wal_rate_kb * 1024.0;
    bool by_pace = pace.rate > 0 && !(cap > 0 && cap <= pace.rate);
    st->wal_rate_cap = by_pace ? pace.rate : cap;
    st->pacing = true;
    double sleep_ms = sc::pause_after_batch_ms(res.ms, batch_sleep_ratio);
    double wal_ms = sc::pause_for_wal_rate_ms(static_cast<double>(res.wal), ms_since(st->started), st->wal_rate_cap);
    st->pause_ms = std::max(sleep_ms, wal_ms);
    LiveJob &v = run->live.values;
    if (v.throttled)
        return;
    if (by_pace && wal_ms > sleep_ms)
        snprintf(v.throttle_reason, sizeof v.throttle_reason,
                 "paced: %.1f MB/s of WAL, checkpoints no closer than %.0f s (max_wal_size %d MB)",
                 pace.rate / (1024.0 * 1024.0), pace.interval_s, max_wal_size_mb);
    else
        v.throttle_reason[0] = '\0';
}

// What a batch did: the batch size, the rates, the pause that paces the next one, the VACUUM count.
void account_batch(Run *run, const BatchResult &res, StepState *st) {
    Live &live = run->live;
    run->sizer.observe(res.blocks, res.ms);
    run->wal_per_block.observe(static_cast<double>(res.wal), res.blocks);
    elog(DEBUG1, "safe_column: job %lld: a batch of %d blocks took %.1f ms and wrote %lld bytes of WAL",
         static_cast<long long>(run->job_id), res.blocks, res.ms, static_cast<long long>(res.wal));
    // The rates count the time from one batch's end to the next's, pauses included. The first batch
    // has no such time: its own duration alone (no pause yet) would start the smoothed rate at a pace
    // the job never keeps, and the demo's progress lines then showed it falling for half a minute.
    TimestampTz now_ts = GetCurrentTimestamp();
    if (live.last_batch_end != 0) {
        double wall_s = static_cast<double>(now_ts - live.last_batch_end) / 1e6;
        live.rows_rate.add(static_cast<double>(res.rows), wall_s + 1e-6);
        live.blocks_rate.add(static_cast<double>(res.blocks), wall_s + 1e-6);
    }
    live.last_batch_end = now_ts;
    if (throttle_enabled)
        pace_batch(run, res, st);
    if (res.relid != live.vacuum_relid) {
        live.vacuum_relid = res.relid;
        live.vacuum_blocks = 0;
        live.vacuum_every = res.part_blocks / 10 > 1024 ? res.part_blocks / 10 : 1024;
    }
    if (live.vacuum_blocks == 0)
        live.vacuum_redo = GetRedoRecPtr();
    // Blocks where rows were filled: a sweep's batch over many blocks that fills a few rows counts those.
    live.vacuum_blocks += std::min<int64>(res.blocks, res.rows);
    live.values.batch_blocks = res.blocks;
    live.values.batch_rows = res.rows;
    live.values.last_batch_ms = res.ms;
    if (run->job.phase == sc::JobPhase::backfill) {
        live.values.blocks_done += res.blocks;
        live.values.rows_per_sec = live.rows_rate.rate().value_or(-1);
        live.values.blocks_per_sec = live.blocks_rate.rate().value_or(-1);
    }
}

// backfill, sweep, final_sweep: one batch on the next part, or the end of the pass.
void step_fill(Run *run, const char *column, StepState *st) {
    if (run->live.vacuum_waiting)
        return;  // vacuum_if_due() runs it once it fits
    int blocks = run->sizer.next_blocks();
    if (throttle_enabled)
        blocks = sc::blocks_within_wal(blocks, checkpoint_wal_budget().left, run->wal_per_block);
    PartCursor cur{};
    st->in_batch = next_part(&run->job, &cur);
    st->batch_part = cur;
    st->batch_end = cur.next_block + blocks;
    if (!st->in_batch) {
        end_of_pass(run, st);
        return;
    }
    BatchResult res{};
    run_batch(&run->job, cur, column, blocks, run->live.skip_locked_next, &res);
    st->in_batch = false;
    run->live.skip_locked_next = false;
    account_batch(run, res, st);
}

// add_check, validate, set_not_null: the DDL step, then the next phase.
void step_ddl(Run *run, const char *column, StepState *st) {
    DdlStepResult res = run_ddl_step(&run->job, column);
    // The NOT NULL sequence is the helper constraint's: a column added NOT NULL with a constant default
    // has none (its job only stages constraints).
    bool helper = run->job.constraint_name != nullptr;
    if (enter_phase(&run->job, &run->live,
                    sc::next_phase(run->job.phase, helper, res.native_not_null, res.staged_constraints,
                                   run->job.has_index, run->job.has_identity)))
        st->stop = true;
}

bool is_ended_state(const char *state) {
    return strcmp(state, "paused") == 0 || strcmp(state, "cancelled") == 0 || strcmp(state, "failed") == 0 ||
           strcmp(state, "complete") == 0;
}

// build_index: the index built concurrently, in transactions of its own (index_build.cpp): the step's
// transaction is committed first and another begun after it, for the phase change. A job paused or
// cancelled meanwhile keeps that state (a pause waits for the build; a cancel interrupts it).
void step_index(Run *run, const char *, StepState *st) {
    Job *job = &run->job;
    StagedConstraint *found = staged_index_of(job->id);
    if (found == nullptr) {
        (void)enter_phase(job, &run->live, sc::JobPhase::attach_index);
        return;
    }
    auto *ix = static_cast<StagedConstraint *>(MemoryContextAllocZero(run->jobcxt, sizeof(StagedConstraint)));
    ix->name = MemoryContextStrdup(run->jobcxt, found->name);
    ix->index_sql = MemoryContextStrdup(run->jobcxt, found->index_sql);
    // A staged CREATE INDEX runs as sent (with CONCURRENTLY), under the search_path it was sent under.
    char *search_path = job->attnum == InvalidAttrNumber ? index_job_search_path(job, run->jobcxt) : nullptr;
    commit_txn();
    // (After a commit the current context is TopMemoryContext: the build's few strings go to the
    // step's context, reset before the next step.)
    MemoryContext oldcxt = MemoryContextSwitchTo(GetMemoryChunkContext(st));
    build_staged_index(job, ix, search_path);
    MemoryContextSwitchTo(oldcxt);
    pfree(ix->name);
    pfree(ix->index_sql);
    pfree(ix);
    if (search_path != nullptr)
        pfree(search_path);
    begin_txn("safe_column: recording the index build");
    Job now{};
    if (!load_job(run->job_id, &now) || is_ended_state(now.state)) {
        st->stop = true;
        return;
    }
    (void)enter_phase(job, &run->live, sc::JobPhase::attach_index);
}

// done: record it.
void step_finish(Run *run, const char *, StepState *st) {
    set_phase(&run->job, sc::JobPhase::done);
    st->stop = true;
}

PhaseStep phase_step(sc::JobPhase phase) {
    switch (sc::step_kind(phase)) {
    case sc::StepKind::fill:
        return step_fill;
    case sc::StepKind::ddl:
        return step_ddl;
    case sc::StepKind::index:
        return step_index;
    case sc::StepKind::finish:
        return step_finish;
    }
    return step_finish;
}

// ---------------------------------------------------------------------------------------------
// The step loop

// Load the job for this step and check that it can go on: its column's current name, or NULL when the
// step must stop (the row is gone, or someone paused, cancelled or finished it). An ERROR when its
// table, column or creator is gone.
const char *load_and_check(Run *run, StepState *st) {
    Job now{};
    if (!load_job(run->job_id, &now))
        return nullptr;  // the job row is gone (the extension was dropped)
    record_throttled(run->job_id, run->live.unrecorded_throttle_ms);
    st->throttle_recorded = true;
    if (is_ended_state(now.state))
        return nullptr;
    if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(now.relid)))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("the table of the job was dropped")));
    // A staged CREATE INDEX has no column (its steps take none).
    char *column = now.attnum == InvalidAttrNumber ? pstrdup("") : live_attname(now.relid, now.attnum);
    if (column == nullptr)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN), errmsg("the column of the job was dropped")));
    if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(now.creator)))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("the role that created the job no longer exists")));
    Job *job = &run->job;
    job->phase = now.phase;
    job->sweep_passes = now.sweep_passes;
    job->pass_rows = now.pass_rows;
    job->state = MemoryContextStrdup(run->jobcxt, now.state);
    return quote_identifier(column);
}

// One step, inside its transaction: check, overrides, throttle, then the phase's step.
void step_body(Run *run, StepState *st) {
    begin_txn("safe_column: checking the job");
    lock_job_step(run->job_id);
    const char *column = load_and_check(run, st);
    if (column == nullptr) {
        st->stop = true;
    } else {
        apply_overrides(run->job_id, store_table());
        run->sizer.set_target_ms(effective_batch_target_ms());
        st->throttle_on = throttle_enabled;
        st->checkpoint_share = checkpoint_wal_share;
        ThrottleOutcome gate = ThrottleOutcome::go;
        sc::SignalKind signal = sc::SignalKind::checkpoint_wal;
        if (throttle_enabled && run->job.phase != sc::JobPhase::done)
            gate = throttle_gate(&run->job, &run->live, &signal);
        if (gate == ThrottleOutcome::paused) {
            st->stop = true;
        } else if (gate == ThrottleOutcome::waiting) {
            st->pause_ms = throttle_nap_ms;
            st->waited_on = static_cast<int>(signal);
        } else {
            phase_step(run->job.phase)(run, column, st);
        }
    }
    commit_txn();
}

// The error guard of a step: its error (in the job's memory, the transaction aborted), or NULL.
ErrorData *run_step(Run *run, StepState *st) {
    ErrorData *volatile err = nullptr;
    PG_TRY();
    {
        step_body(run, st);
    }
    PG_CATCH();
    {
        in_safe_column_ddl = false;
        MemoryContextSwitchTo(run->jobcxt);
        err = CopyErrorData();
        FlushErrorState();
        AbortCurrentTransaction();
    }
    PG_END_TRY();
    return err;
}

// ---------------------------------------------------------------------------------------------
// After a step failed

// VALIDATE found a NULL (sc::phase_after_check_violation): a final sweep fills what arrived.
void to_final_sweep(Run *run) {
    begin_txn("safe_column: to the final sweep");
    reset_parts(&run->job, run->job.sweep_passes + 1);
    set_phase(&run->job, sc::JobPhase::final_sweep);
    commit_txn();
    live_set_phase(&run->live, sc::JobPhase::final_sweep);
}

// A transient error: the step is tried again, with a smaller batch, after a growing nap.
void retry_step(Run *run, const StepState *st, const ErrorData *err) {
    run->transient_failures++;
    // The backfill skips rows the application keeps locked (the sweep comes back for them); a sweep
    // waits for them, retrying the same range, so that no existing row is left out.
    bool row_lock = st->in_batch && err->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
    if (row_lock && run->job.phase == sc::JobPhase::backfill)
        run->live.skip_locked_next = true;
    run->sizer.failed();
    // Every role of the database reads this reason: the kind of error, never its text (which can
    // quote a row's values); safe_column_jobs.error shows the text to those who may see it.
    char reason[192];
    if (row_lock)
        strlcpy(reason, "rows locked by other transactions", sizeof reason);
    else
        snprintf(reason, sizeof reason, "retrying after %s (SQLSTATE %s), retry %d of %d",
                 transient_error_name(err->sqlerrcode), unpack_sql_state(err->sqlerrcode), run->transient_failures,
                 max_retries);
    live_set_throttle(&run->live, reason);
    nap(run->transient_failures < 10 ? 100L * run->transient_failures : 1000L);
}

// Why the table or column went away between the step's check and its statement; NULL when both still
// exist (renamed meanwhile).
const char *what_is_gone(const Job *job) {
    begin_txn("safe_column: checking the job's table");
    const char *why = !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(job->relid)) ? "the table of the job was dropped"
                      : job->attnum != InvalidAttrNumber && live_attname(job->relid, job->attnum) == nullptr
                          ? "the column of the job was dropped"
                          : nullptr;
    commit_txn();
    return why;
}

// The row that made the batch fail, row by row over the batch's range (its error and the row), or NULL.
char *failing_row_of_batch(Run *run, const void *arg) {
    auto *st = static_cast<const StepState *>(arg);
    char *column = live_attname(run->job.relid, run->job.attnum);
    return column ? find_failing_row(&run->job, quote_identifier(column), &st->batch_part, st->batch_end) : nullptr;
}

// A row that violates the staged CHECK whose VALIDATE failed (arg: the error), or NULL.
char *row_violating_check(Run *run, const void *arg) {
    auto *err = static_cast<const ErrorData *>(arg);
    RoleSwitch rs;
    as_table_owner(run->job.creator, run->job.relid, &rs);
    char *row = check_violating_row(run->job.relid, err->constraint_name);
    back_from_table_owner(&rs);
    return row ? psprintf("%s (%s)", err->message, row) : nullptr;
}

// find's answer, looked for in a fresh transaction and copied into the job's context; NULL when it has
// none or fails (the job fails with its own error then).
char *find_in_fresh_txn(Run *run, const char *what, char *(*find)(Run *, const void *), const void *arg) {
    char *volatile found = nullptr;
    MemoryContext old = CurrentMemoryContext;
    PG_TRY();
    {
        begin_txn(what);
        char *answer = find(run, arg);
        if (answer != nullptr)
            found = MemoryContextStrdup(run->jobcxt, answer);
        commit_txn();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(old);
        FlushErrorState();
        AbortCurrentTransaction();
    }
    PG_END_TRY();
    MemoryContextSwitchTo(old);
    return found;
}

// The job fails: the message says why (the table or column gone, the row, the timeout, the retries),
// the helper CHECK goes. gone: what_is_gone()'s answer (NULL: nothing is gone, or not asked).
void fail_step(Run *run, const StepState *st, const ErrorData *err, bool timed_out, const char *gone) {
    const char *message = gone != nullptr ? gone : err->message;
    if (timed_out)
        message = psprintf("a statement of the job ran longer than safe_column.batch_timeout (%d ms)",
                           batch_timeout_ms);
    bool gave_up = !timed_out && transient_error(err->sqlerrcode);
    if (gone == nullptr && !timed_out && st->batch_part.relid != InvalidOid && st->batch_end > st->batch_part.next_block) {
        char *row = find_in_fresh_txn(run, "safe_column: locating the row that failed", failing_row_of_batch, st);
        if (row != nullptr)
            message = row;
    }
    // VALIDATE of a staged CHECK names no row: one that violates it, found by its expression.
    if (gone == nullptr && !timed_out && err->sqlerrcode == ERRCODE_CHECK_VIOLATION && err->constraint_name != nullptr &&
        sc::step_kind(run->job.phase) == sc::StepKind::ddl) {
        char *row = find_in_fresh_txn(run, "safe_column: locating a row that violates the CHECK", row_violating_check, err);
        if (row != nullptr)
            message = row;
    }
    // A DDL step's error with its detail: VALIDATE of a foreign key names the row's missing key there;
    // a unique index build's names the duplicated key there.
    if (gone == nullptr && !timed_out && err->detail != nullptr && sc::step_kind(run->job.phase) != sc::StepKind::fill)
        message = psprintf("%s: %s", message, err->detail);
    if (gave_up)
        message = psprintf("gave up after %d retries (safe_column.max_retries): %s", run->transient_failures, message);
    ereport(LOG, (errmsg("safe_column job " INT64_FORMAT " failed: %s", run->job_id, message)));
    fail_job(run->job_id, message, run->live.unrecorded_throttle_ms);
    remove_helper_after_failure(&run->job);
}

// Whether err is the job's own NOT NULL constraint found violated: a NULL arrived before it existed.
// Before 18 the helper CHECK's violation (a staged CHECK's names another constraint, and fails the job);
// from 18 VALIDATE of NOT NULL ... NOT VALID reports "column ... contains null values", naming no
// constraint (no other statement of the validate step raises it).
bool own_not_null_violated(const Run *run, const ErrorData *err) {
    if (run->job.constraint_name == nullptr)
        return false;
    if (err->sqlerrcode == ERRCODE_NOT_NULL_VIOLATION)
        return true;
    return err->sqlerrcode == ERRCODE_CHECK_VIOLATION &&
           (err->constraint_name == nullptr || strcmp(err->constraint_name, run->job.constraint_name) == 0);
}

// What the loop does after a step's error: true to go on with the next step, false when the job failed.
bool recover(Run *run, const StepState *st, ErrorData *err, bool timed_out) {
    if (own_not_null_violated(run, err) && sc::phase_after_check_violation(run->job.phase) != run->job.phase) {
        to_final_sweep(run);
        return true;
    }
    if (transient_error(err->sqlerrcode) && !timed_out && run->transient_failures < max_retries) {
        retry_step(run, st, err);
        return true;
    }
    const char *gone = nullptr;
    if (err->sqlerrcode == ERRCODE_UNDEFINED_COLUMN || err->sqlerrcode == ERRCODE_UNDEFINED_TABLE) {
        gone = what_is_gone(&run->job);
        if (gone == nullptr && run->renamed_retries++ < 3) {
            // Both still exist: renamed meanwhile. The next step resolves the new names. (An expression
            // naming a dropped column fails the same way every time: after 3 tries.)
            nap(100L);
            return true;
        }
    }
    fail_step(run, st, err, timed_out, gone);
    return false;
}

// ---------------------------------------------------------------------------------------------
// After a step succeeded

// Every UPDATE leaves a dead row version behind; on full pages the new versions go to new pages and
// the table would double. A VACUUM of what was filled so far lets the next batches reuse that space.
// Part of the calm way of working: skipped when safe_column.throttle is off (the job's own value).
void vacuum_if_due(Run *run, StepState *st) {
    Live &live = run->live;
    live.vacuum_waiting = false;
    if (!st->throttle_on || live.vacuum_relid == InvalidOid)
        return;
    // A VACUUM pass writes its WAL in one go (with data checksums, a full-page image of every page it
    // sets a hint bit on): it runs when that fits what is left below the share, or under the pace line,
    // or in half the room before a forced checkpoint (sc::plan_vacuum).
    bool by_share = st->checkpoint_share > 0;
    CheckpointBudget budget = by_share ? checkpoint_wal_budget(st->checkpoint_share) : checkpoint_pace_budget();
    sc::VacuumInputs in;
    in.filled = live.vacuum_blocks;
    in.every = live.vacuum_every;
    in.wal_left = budget.left;
    in.wal_budget = budget.whole;
    in.wal_room = budget.room;  // -1 under the share: no room rule there
    in.after_checkpoint = GetRedoRecPtr() != live.vacuum_redo;
    in.page_bytes = BLCKSZ;
    in.batch_wal_per_block = run->wal_per_block.bytes;
    sc::VacuumPlan plan = sc::plan_vacuum(in, live.vacuum_wal_per_block, live.vacuum_wal_after_checkpoint);
    if (!plan.due)
        return;
    if (!plan.fits) {
        // Like a batch over the checkpoint signal: wait (recorded as such) until a checkpoint.
        live.vacuum_waiting = true;
        st->pacing = false;
        st->pause_ms = std::max(st->pause_ms, static_cast<double>(throttle_nap_ms));
        st->waited_on = static_cast<int>(sc::SignalKind::checkpoint_wal);
        char *reason = psprintf(by_share ? "checkpoint_wal: a VACUUM of %lld blocks (about %.0f MB of WAL) waits for a checkpoint"
                                         : "checkpoint_wal pace: a VACUUM of %lld blocks (about %.0f MB of WAL) waits for room under the pace",
                                static_cast<long long>(live.vacuum_blocks), plan.expected_wal / (1024.0 * 1024.0));
        live_set_throttle(&live, reason);
        pfree(reason);
        return;
    }
    int64 wal0 = pgWalUsage.wal_bytes;
    instr_time v0 = now_instr();
    vacuum_part(live.vacuum_relid);
    double wal = static_cast<double>(pgWalUsage.wal_bytes - wal0);
    elog(DEBUG1, "safe_column: job %lld: a VACUUM after %lld filled blocks took %.1f ms and wrote %.0f bytes of WAL",
         static_cast<long long>(run->job_id), static_cast<long long>(live.vacuum_blocks), ms_since(v0), wal);
    sc::WalPerBlock &measured = in.after_checkpoint ? live.vacuum_wal_after_checkpoint : live.vacuum_wal_per_block;
    measured.observe(wal, static_cast<int>(std::min<int64>(live.vacuum_blocks, INT_MAX)));
    live.vacuum_blocks = 0;
    // The VACUUM's WAL counts towards safe_column.max_wal_rate too.
    st->pause_ms += sc::pause_for_wal_rate_ms(wal, ms_since(v0), st->wal_rate_cap);
}

// Naps come in whole milliseconds: a pause that paces the batches, if shorter, is owed until such
// pauses add up to one (a 1 ms batch at sleep ratio 0.5 naps 1 ms every other step), and the time
// actually napped is paid off. A wait (for a throttling signal, for locked rows) naps as asked. The time
// throttled is the time actually napped (a reload may cut a nap short; a busy machine may make it
// longer), recorded in the job by the next step.
void pause_after_step(Run *run, const StepState *st) {
    Live &live = run->live;
    long nap_ms = st->pacing ? live.pause_debt.owe(st->pause_ms) : static_cast<long>(std::ceil(st->pause_ms));
    if (nap_ms <= 0)
        return;
    instr_time nap_start = now_instr();
    bool whole = nap(nap_ms);
    double napped_ms = ms_since(nap_start);
    if (st->pacing)
        live.pause_debt.paid(napped_ms);
    if (!whole || !throttle_enabled)
        live.pause_debt = sc::PauseDebt{};  // reloaded: what is owed follows the new settings
    if (st->waited_on >= 0)
        live.unrecorded_throttle_ms[st->waited_on] += napped_ms;
}

// The step committed: publish its progress; false when the job is done with this worker.
bool after_step(Run *run, StepState *st) {
    Live &live = run->live;
    run->transient_failures = 0;
    run->renamed_retries = 0;
    if (st->throttle_recorded)
        forget_recorded_throttle(&live);  // committed
    if (live.values.throttled && st->pause_ms < throttle_nap_ms)
        live_set_throttle(&live, nullptr);
    else
        live_publish(live.slot, &live.values);
    if (st->stop)
        return false;
    vacuum_if_due(run, st);
    pause_after_step(run, st);
    return true;
}

// ---------------------------------------------------------------------------------------------
// Starting a run

// Load the job, mark it started (a queued job takes its phase's state); NULL when it is gone.
Run *start_run(int64 job_id, MemoryContext jobcxt) {
    // Zeroed memory; the members with constructors are constructed in place below (every one is
    // trivially destructible: the context is deleted, nothing is destroyed).
    Run *run = static_cast<Run *>(MemoryContextAllocZero(jobcxt, sizeof(Run)));
    new (&run->live) Live{};
    run->job_id = job_id;
    run->jobcxt = jobcxt;
    begin_txn("safe_column: starting a job");
    bool loaded = load_job(job_id, &run->job);
    if (loaded) {
        keep_job(&run->job, jobcxt);
        // Recorded at creation and never changed: read once per run, not at every pass end.
        List *staged = load_staged_constraints(job_id);
        run->job.has_staged = has_staged_kind(staged, "cf");
        run->job.has_index = has_staged_kind(staged, "upx");
        run->job.has_identity = has_staged_kind(staged, "i");
        set_started(job_id);
        if (strcmp(run->job.state, "queued") == 0) {
            set_phase(&run->job, run->job.phase);
            run->job.state = MemoryContextStrdup(jobcxt, sc::state_for_phase(run->job.phase));
        }
    }
    commit_txn();
    if (!loaded)
        return nullptr;
    sc::BatchSizerConfig bcfg;
    bcfg.target_ms = effective_batch_target_ms();
    new (&run->sizer) sc::BatchSizer(bcfg);
    new (&run->wal_per_block) sc::WalPerBlock{};
    run->live.slot = live_claim(MyDatabaseId, job_id);
    run->live.values.job_id = job_id;
    run->live.values.rows_per_sec = -1;
    run->live.values.blocks_per_sec = -1;
    live_set_phase(&run->live, run->job.phase);
    return run;
}

}  // namespace

// Run one job until it is complete, paused, cancelled or failed: the step loop.
void run_job(int64 job_id) {
    MemoryContext jobcxt = AllocSetContextCreate(TopMemoryContext, "safe_column job", ALLOCSET_DEFAULT_SIZES);
    MemoryContext stepcxt = AllocSetContextCreate(jobcxt, "safe_column step", ALLOCSET_DEFAULT_SIZES);
    Run *run = start_run(job_id, jobcxt);
    if (run == nullptr) {
        MemoryContextDelete(jobcxt);
        return;
    }
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        exit_if_postmaster_died();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        run->sizer.set_target_ms(effective_batch_target_ms());
        MemoryContextReset(stepcxt);
        MemoryContext oldcxt = MemoryContextSwitchTo(stepcxt);
        StepState *st = static_cast<StepState *>(palloc0(sizeof(StepState)));
        st->waited_on = -1;
        st->started = now_instr();
        // The job's overrides of the settings apply to this step only (a reload between steps is never
        // undone by putting stale values back).
        SettingsSnapshot server_settings;
        save_settings(&server_settings);
        ErrorData *err = run_step(run, st);
        MemoryContextSwitchTo(oldcxt);
        restore_settings(&server_settings);
        // The job's SQL ran past safe_column.batch_timeout: a failure of the job, not a cancel to retry.
        bool timed_out = err != nullptr && user_sql_timed_out();
        clear_user_sql_timed_out();
        bool go_on = err != nullptr ? recover(run, st, err, timed_out) : after_step(run, st);
        if (err != nullptr)
            FreeErrorData(err);
        if (!go_on)
            break;
    }
    // Failed or cancelled: no index of the job's own stays behind (a paused job keeps it for its resume).
    if (run->job.has_index)
        drop_unattached_staged_index(&run->job);
    live_release(run->live.slot);
    MemoryContextDelete(jobcxt);
}

}  // namespace sc::pg
