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
    {JobPhase::set_identity, "set_identity"}, {JobPhase::build_index, "build_index"},
    {JobPhase::attach_index, "attach_index"},
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
    case JobPhase::set_identity:
    case JobPhase::build_index:
    case JobPhase::attach_index:
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
    case JobPhase::set_identity:
    case JobPhase::attach_index:
        return StepKind::ddl;
    case JobPhase::build_index:
        return StepKind::index;
    case JobPhase::done:
        return StepKind::finish;
    }
    return StepKind::finish;
}

PassEnd after_pass(JobPhase phase, long long pass_rows, const PhaseInputs &in) noexcept {
    if (phase == JobPhase::backfill)
        return {next_phase(phase, in.not_null, false, in.staged_constraints, in.staged_index, in.staged_identity), false, false};
    // A pass that filled no row found none to fill (a sweep waits for locked rows rather than skip
    // them); one that filled some is followed by another. For the final sweep, VALIDATE checks the
    // rest: a NULL left there sends it back (phase_after_check_violation).
    SweepOutcome outcome;
    outcome.rows_filled = pass_rows;
    outcome.nulls_left = pass_rows > 0;
    switch (after_sweep(phase, outcome, in)) {
    case SweepNext::next_phase:
        return {next_phase(phase, in.not_null, false, in.staged_constraints, in.staged_index, in.staged_identity), false, false};
    case SweepNext::another_pass:
        return {phase, true, false};
    case SweepNext::wait_and_pass:
        return {phase, true, true};
    }
    return {phase, true, false};
}

JobPhase first_phase(bool backfill, bool staged_constraints, bool staged_index) noexcept {
    if (backfill)
        return JobPhase::backfill;
    if (staged_constraints)
        return JobPhase::add_check;
    return staged_index ? JobPhase::build_index : JobPhase::done;
}

JobPhase phase_after_check_violation(JobPhase phase) noexcept {
    return phase == JobPhase::validate ? JobPhase::final_sweep : phase;
}

namespace {

JobPhase next_before_index(JobPhase phase, bool not_null, bool native_not_null, bool staged_constraints) noexcept {
    switch (phase) {
    case JobPhase::backfill:
        return JobPhase::sweep;
    case JobPhase::sweep:
        return not_null || staged_constraints ? JobPhase::add_check : JobPhase::done;
    case JobPhase::add_check:
        // VALIDATE right away: it reads the table once, as a final sweep would, and finds any row that
        // arrived NULL before the CHECK; only then a final sweep fills them (phase_after_check_violation).
        return JobPhase::validate;
    case JobPhase::final_sweep:
        return JobPhase::validate;
    case JobPhase::validate:
        return not_null && !native_not_null ? JobPhase::set_not_null : JobPhase::done;
    case JobPhase::set_not_null:
    case JobPhase::set_identity:
    case JobPhase::build_index:
    case JobPhase::attach_index:
    case JobPhase::done:
        return JobPhase::done;
    }
    return JobPhase::done;
}

}  // namespace

JobPhase next_phase(JobPhase phase, bool not_null, bool native_not_null, bool staged_constraints,
                    bool staged_index, bool staged_identity) noexcept {
    if (phase == JobPhase::build_index)
        return JobPhase::attach_index;
    if (phase == JobPhase::attach_index || phase == JobPhase::done)
        return JobPhase::done;
    JobPhase next = phase == JobPhase::set_identity
                        ? JobPhase::done
                        : next_before_index(phase, not_null, native_not_null, staged_constraints);
    // An identity needs its column NOT NULL: it follows the NOT NULL sequence.
    if (next == JobPhase::done && staged_identity && phase != JobPhase::set_identity)
        return JobPhase::set_identity;
    // The index comes last: a primary key's column is NOT NULL by then (ADD PRIMARY KEY USING INDEX
    // would otherwise scan for NULLs under ACCESS EXCLUSIVE), and the build reads every value filled.
    return next == JobPhase::done && staged_index ? JobPhase::build_index : next;
}

}  // namespace sc
