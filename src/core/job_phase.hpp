// The phases of a backfill job and what comes after each: the staged add-column sequence.
//
//   backfill      existing rows, block range by block range, bounded by the table's size at the start
//   sweep         whole passes filling rows still NULL (rows the application moved while the backfill ran)
//   add_check     NOT NULL only: CHECK (col IS NOT NULL) NOT VALID, only once the sweep found none left
//   final_sweep   NOT NULL only: fill what arrived before the CHECK, until none is left
//   validate      NOT NULL only: VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE: DML goes on)
//   set_not_null  NOT NULL only: SET NOT NULL (no scan, thanks to the valid CHECK), DROP the CHECK
//   done
#pragma once

#include <string>
#include <string_view>

namespace sc {

enum class JobPhase { backfill, sweep, add_check, final_sweep, validate, set_not_null, done };

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
JobPhase next_phase(JobPhase phase, bool not_null) noexcept;

}  // namespace sc
