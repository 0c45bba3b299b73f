// The phases of a backfill job and what comes after each: the staged add-column sequence.
//
//   backfill      existing rows, block range by block range, bounded by the table's size at the start
//   sweep         whole passes filling rows still NULL (rows the application moved while the backfill ran)
//   add_check     NOT NULL: CHECK (col IS NOT NULL) NOT VALID, only once the sweep found none left;
//                 and the column's staged CHECK and FOREIGN KEY constraints, NOT VALID
//   validate      VALIDATE CONSTRAINT of each (SHARE UPDATE EXCLUSIVE: DML goes on)
//   final_sweep   NOT NULL only, and only when VALIDATE found a NULL (a row that arrived NULL before the
//                 CHECK): fill them, until none is left, then validate again
//   set_not_null  NOT NULL only: SET NOT NULL (no scan, thanks to the valid CHECK), DROP the CHECK
// From PostgreSQL 18 the constraint of add_check is NOT NULL ... NOT VALID itself, and validate ends it.
//   set_identity  identity only: the sequence default becomes GENERATED ... AS IDENTITY, its sequence
//                 moved past the values filled, the staging sequence dropped (brief, queue-safe)
//   build_index   UNIQUE / PRIMARY KEY only: CREATE UNIQUE INDEX CONCURRENTLY, once the column is filled
//                 (and NOT NULL, for a primary key)
//   attach_index  ADD CONSTRAINT ... UNIQUE / PRIMARY KEY USING INDEX (brief, queue-safe)
//   done
#pragma once

#include <string>
#include <string_view>

namespace sc {

enum class JobPhase {
    backfill,
    sweep,
    add_check,
    final_sweep,
    validate,
    set_not_null,
    set_identity,
    build_index,
    attach_index,
    done
};

const char *phase_name(JobPhase phase) noexcept;
bool phase_from_name(std::string_view name, JobPhase *out) noexcept;

// The job state (safe_column_jobs.state) that a running job in this phase shows.
const char *state_for_phase(JobPhase phase) noexcept;

struct SweepOutcome {
    long long rows_filled = 0;  // rows the pass filled
    bool nulls_left = false;    // rows still NULL after the pass
};

struct PhaseInputs {
    bool not_null = false;
    bool staged_constraints = false;  // the column's own CHECK / FOREIGN KEY constraints, added after the fill
    bool staged_index = false;        // the column's own UNIQUE / PRIMARY KEY, built after everything else
    bool staged_identity = false;     // an identity column: made one once it is filled and NOT NULL
    bool new_rows_get_value = true;  // new rows get a non-NULL default (else NULLs can keep arriving)
    int sweep_passes = 0;            // passes done in this phase, including the one just finished
    int max_sweep_passes = 3;        // passes before NOT NULL moves on to its CHECK anyway
};

enum class SweepNext {
    next_phase,     // go on to next_phase()
    another_pass,   // run the sweep again now
    wait_and_pass,  // rows left are locked by others: wait, then run it again
};

// After a sweep pass of `phase` (sweep or final_sweep): what to do.
SweepNext after_sweep(JobPhase phase, const SweepOutcome &outcome, const PhaseInputs &in) noexcept;

// The phase after `phase` when it completed.
// native_not_null: the constraint validated is PostgreSQL's own NOT NULL (18 and later), which needs no
// SET NOT NULL after it: validate is the last step. staged_constraints: the job adds and validates the
// column's CHECK / FOREIGN KEY constraints (add_check, validate) even when the column stays nullable.
// staged_index: the job builds the column's UNIQUE / PRIMARY KEY index (build_index, attach_index) last,
// where it would otherwise be done; staged_identity: the job makes the column an identity column
// (set_identity) once it is NOT NULL, before the index.
JobPhase next_phase(JobPhase phase, bool not_null, bool native_not_null, bool staged_constraints = false,
                    bool staged_index = false, bool staged_identity = false) noexcept;

// The phase a new job starts in: backfill when existing rows need a value, else add_check when it has
// constraints to stage, else build_index when it has an index to build, else done.
JobPhase first_phase(bool backfill, bool staged_constraints, bool staged_index = false) noexcept;

// What one step of a phase does: the worker's phase table has one function per kind.
enum class StepKind {
    fill,    // backfill, sweep, final_sweep: one batch, or the end of a pass over every part
    ddl,     // add_check, validate, set_not_null, set_identity, attach_index: one DDL step (queue-safe
             // lock), then the next phase
    index,   // build_index: CREATE INDEX CONCURRENTLY, in transactions of its own
    finish,  // done
};
StepKind step_kind(JobPhase phase) noexcept;

// When a pass of a fill phase found no part left to fill. pass_rows: rows the pass filled.
struct PassEnd {
    JobPhase next;     // the phase to go on in (the same phase: another pass)
    bool new_pass;     // start another pass over every part (next == the same phase)
    bool wait_first;   // the rows left are locked by others: wait a moment before that pass
};
PassEnd after_pass(JobPhase phase, long long pass_rows, const PhaseInputs &in) noexcept;

// After a step of `phase` failed because the job's own NOT NULL constraint is violated (the helper
// CHECK's violation; from 18, the NOT NULL's "contains null values"): the phase to go back to. VALIDATE
// found a NULL that arrived after the sweep passed its page and before the constraint existed: a final
// sweep fills those, then VALIDATE again. Any other phase: itself (the error fails the job).
JobPhase phase_after_check_violation(JobPhase phase) noexcept;

}  // namespace sc
