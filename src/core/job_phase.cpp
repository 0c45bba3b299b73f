#include "job_phase.hpp"

namespace sc {

namespace {
struct Named {
    JobPhase phase;
    const char *name;
};
constexpr Named names[] = {
    {JobPhase::backfill, "backfill"},         {JobPhase::sweep, "sweep"},
    {JobPhase::add_check, "add_check"},       {JobPhase::final_sweep, "final_sweep"},
    {JobPhase::validate, "validate"},         {JobPhase::set_not_null, "set_not_null"},
    {JobPhase::done, "done"},
};
}  // namespace

const char *phase_name(JobPhase phase) noexcept {
    for (const Named &n : names)
        if (n.phase == phase)
            return n.name;
    return "unknown";
}

bool phase_from_name(std::string_view name, JobPhase *out) noexcept {
    for (const Named &n : names)
        if (name == n.name) {
            *out = n.phase;
            return true;
        }
    return false;
}

const char *state_for_phase(JobPhase phase) noexcept {
    switch (phase) {
    case JobPhase::backfill:
    case JobPhase::sweep:
        return "backfilling";
    case JobPhase::add_check:
    case JobPhase::final_sweep:
    case JobPhase::validate:
    case JobPhase::set_not_null:
        return "validating";
    case JobPhase::done:
        return "complete";
    }
    return "backfilling";
}

SweepNext after_sweep(JobPhase phase, const SweepOutcome &outcome, const PhaseInputs &in) noexcept {
    if (!outcome.nulls_left)
        return SweepNext::next_phase;
    // A nullable column whose new rows get no value: NULLs keep arriving from the application's
    // inserts, so one pass over what existed is the whole sweep.
    if (phase == JobPhase::sweep && !in.not_null && !in.new_rows_get_value)
        return SweepNext::next_phase;
    // Rows are left but this pass filled none: every one left is locked by another transaction.
    if (outcome.rows_filled == 0)
        return SweepNext::wait_and_pass;
    // Passes keep finding rows (the application writes NULLs, or moves rows faster than we pass):
    // a nullable column is done; NOT NULL goes on to its CHECK, which stops new NULLs, and the final
    // sweep, which has no cap, finishes.
    if (phase == JobPhase::sweep && in.sweep_passes >= in.max_sweep_passes)
        return SweepNext::next_phase;
    return SweepNext::another_pass;
}

StepKind step_kind(JobPhase phase) noexcept {
    switch (phase) {
    case JobPhase::backfill:
    case JobPhase::sweep:
    case JobPhase::final_sweep:
        return StepKind::fill;
    case JobPhase::add_check:
    case JobPhase::validate:
    case JobPhase::set_not_null:
        return StepKind::ddl;
    case JobPhase::done:
        return StepKind::finish;
    }
    return StepKind::finish;
}

PassEnd after_pass(JobPhase phase, long long pass_rows, const PhaseInputs &in) noexcept {
    if (phase == JobPhase::backfill)
        return {next_phase(phase, in.not_null, false, in.staged_constraints), false, false};
    // A pass that filled no row found none to fill (a sweep waits for locked rows rather than skip
    // them); one that filled some is followed by another. For the final sweep, VALIDATE checks the
    // rest: a NULL left there sends it back (phase_after_check_violation).
    SweepOutcome outcome;
    outcome.rows_filled = pass_rows;
    outcome.nulls_left = pass_rows > 0;
    switch (after_sweep(phase, outcome, in)) {
    case SweepNext::next_phase:
        return {next_phase(phase, in.not_null, false, in.staged_constraints), false, false};
    case SweepNext::another_pass:
        return {phase, true, false};
    case SweepNext::wait_and_pass:
        return {phase, true, true};
    }
    return {phase, true, false};
}

JobPhase first_phase(bool backfill, bool staged_constraints) noexcept {
    if (backfill)
        return JobPhase::backfill;
    return staged_constraints ? JobPhase::add_check : JobPhase::done;
}

JobPhase phase_after_check_violation(JobPhase phase) noexcept {
    return phase == JobPhase::validate ? JobPhase::final_sweep : phase;
}

JobPhase next_phase(JobPhase phase, bool not_null, bool native_not_null, bool staged_constraints) noexcept {
    switch (phase) {
    case JobPhase::backfill:
        return JobPhase::sweep;
    case JobPhase::sweep:
        return not_null || staged_constraints ? JobPhase::add_check : JobPhase::done;
    case JobPhase::add_check:
        // Only the helper CHECK of NOT NULL needs a sweep behind it (rows that arrived NULL before it).
        return not_null ? JobPhase::final_sweep : JobPhase::validate;
    case JobPhase::final_sweep:
        return JobPhase::validate;
    case JobPhase::validate:
        return not_null && !native_not_null ? JobPhase::set_not_null : JobPhase::done;
    case JobPhase::set_not_null:
    case JobPhase::done:
        return JobPhase::done;
    }
    return JobPhase::done;
}

}  // namespace sc
