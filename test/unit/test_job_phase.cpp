// Unit tests of src/core/job_phase: phase names, the job state each phase shows, the phase sequence and
// what to do after a sweep pass.
#include "core/job_phase.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace {

using sc::after_sweep;
using sc::JobPhase;
using sc::next_phase;
using sc::phase_from_name;
using sc::phase_name;
using sc::PhaseInputs;
using sc::state_for_phase;
using sc::SweepNext;
using sc::SweepOutcome;

const JobPhase kAllPhases[] = {JobPhase::backfill,    JobPhase::sweep,    JobPhase::add_check,
                               JobPhase::final_sweep, JobPhase::validate, JobPhase::set_not_null,
                               JobPhase::set_identity, JobPhase::build_index, JobPhase::attach_index,
                               JobPhase::done};

SweepOutcome outcome(long long rows_filled, bool nulls_left) {
    SweepOutcome o;
    o.rows_filled = rows_filled;
    o.nulls_left = nulls_left;
    return o;
}

PhaseInputs inputs(bool not_null, bool new_rows_get_value, int sweep_passes, int max_sweep_passes = 3) {
    PhaseInputs in;
    in.not_null = not_null;
    in.new_rows_get_value = new_rows_get_value;
    in.sweep_passes = sweep_passes;
    in.max_sweep_passes = max_sweep_passes;
    return in;
}

// Every phase reached from backfill when each completes, in order (bounded, in case of a cycle).
std::vector<JobPhase> chain(bool not_null, bool native = false, bool constraints = false,
                            JobPhase from = JobPhase::backfill, bool index = false) {
    std::vector<JobPhase> out{from};
    while (out.back() != JobPhase::done && out.size() < 20)
        out.push_back(next_phase(out.back(), not_null, native, constraints, index));
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Names

TEST(JobPhaseName, ExactNames) {
    EXPECT_STREQ(phase_name(JobPhase::backfill), "backfill");
    EXPECT_STREQ(phase_name(JobPhase::sweep), "sweep");
    EXPECT_STREQ(phase_name(JobPhase::add_check), "add_check");
    EXPECT_STREQ(phase_name(JobPhase::final_sweep), "final_sweep");
    EXPECT_STREQ(phase_name(JobPhase::validate), "validate");
    EXPECT_STREQ(phase_name(JobPhase::set_not_null), "set_not_null");
    EXPECT_STREQ(phase_name(JobPhase::done), "done");
}

TEST(JobPhaseName, RoundTripsForEveryPhase) {
    std::set<std::string> seen;
    for (JobPhase p : kAllPhases) {
        const std::string name = phase_name(p);
        EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
        JobPhase back = p == JobPhase::done ? JobPhase::backfill : JobPhase::done;  // anything else
        ASSERT_TRUE(phase_from_name(name, &back)) << name;
        EXPECT_EQ(back, p) << name;
    }
    EXPECT_EQ(seen.size(), 10u);
}

TEST(JobPhaseName, UnknownNamesAreRejectedAndLeaveTheOutputAlone) {
    for (const std::string name : {"", "Backfill", "BACKFILL", " backfill", "backfill ", "unknown", "final-sweep",
                                   "complete", "backfilling", "validating", "set_not_nul"}) {
        JobPhase out = JobPhase::validate;
        EXPECT_FALSE(phase_from_name(name, &out)) << "'" << name << "'";
        EXPECT_EQ(out, JobPhase::validate) << "'" << name << "'";
    }
    // An embedded NUL does not make a prefix match.
    JobPhase out = JobPhase::validate;
    EXPECT_FALSE(phase_from_name(std::string("done\0x", 6), &out));
    EXPECT_EQ(out, JobPhase::validate);
}

TEST(JobPhaseName, OutOfRangeValueIsUnknown) {
    EXPECT_STREQ(phase_name(static_cast<JobPhase>(99)), "unknown");
    JobPhase out = JobPhase::sweep;
    EXPECT_FALSE(phase_from_name("unknown", &out));
}

// ---------------------------------------------------------------------------------------------------
// state_for_phase

TEST(JobPhaseState, EachPhaseShowsItsState) {
    EXPECT_STREQ(state_for_phase(JobPhase::backfill), "backfilling");
    EXPECT_STREQ(state_for_phase(JobPhase::sweep), "backfilling");
    EXPECT_STREQ(state_for_phase(JobPhase::add_check), "validating");
    EXPECT_STREQ(state_for_phase(JobPhase::final_sweep), "validating");
    EXPECT_STREQ(state_for_phase(JobPhase::validate), "validating");
    EXPECT_STREQ(state_for_phase(JobPhase::set_not_null), "validating");
    EXPECT_STREQ(state_for_phase(JobPhase::done), "complete");
}

// ---------------------------------------------------------------------------------------------------
// next_phase

TEST(JobPhaseNext, NullableChainIsBackfillSweepDone) {
    const std::vector<JobPhase> expected{JobPhase::backfill, JobPhase::sweep, JobPhase::done};
    EXPECT_EQ(chain(false), expected);
}

TEST(JobPhaseNext, NotNullChainGoesThroughCheckAndValidation) {
    const std::vector<JobPhase> expected{JobPhase::backfill,    JobPhase::sweep,    JobPhase::add_check,
                                         JobPhase::validate, JobPhase::set_not_null,
                                         JobPhase::done};
    EXPECT_EQ(chain(true), expected);
}

// PostgreSQL 18 and later: the constraint added is NOT NULL NOT VALID itself; validated, it is the
// column's NOT NULL, and no SET NOT NULL (no ACCESS EXCLUSIVE step) follows.
TEST(JobPhaseNext, NativeNotNullEndsWithValidation) {
    const std::vector<JobPhase> expected{JobPhase::backfill,    JobPhase::sweep,    JobPhase::add_check,
                                         JobPhase::validate, JobPhase::done};
    EXPECT_EQ(chain(true, true), expected);
    EXPECT_EQ(next_phase(JobPhase::validate, true, false), JobPhase::set_not_null);
    EXPECT_EQ(next_phase(JobPhase::validate, true, true), JobPhase::done);
    // A job that reached set_not_null with the CHECK of an older server still finishes it.
    EXPECT_EQ(next_phase(JobPhase::set_not_null, true, true), JobPhase::done);
}

TEST(JobPhaseNext, DoneStaysDone) {
    EXPECT_EQ(next_phase(JobPhase::done, false, false), JobPhase::done);
    EXPECT_EQ(next_phase(JobPhase::done, true, false), JobPhase::done);
}

// Every phase eventually reaches done, whichever not_null (a job resumed from any stored phase ends).
TEST(JobPhaseNext, EveryPhaseReachesDone) {
    for (bool not_null : {false, true})
        for (JobPhase p : kAllPhases) {
            JobPhase q = p;
            int steps = 0;
            while (q != JobPhase::done && steps < 10) {
                q = next_phase(q, not_null, false);
                ++steps;
            }
            EXPECT_EQ(q, JobPhase::done) << phase_name(p) << " not_null=" << not_null;
        }
}

TEST(JobPhaseNext, SweepAddCheckAndValidateDependOnNotNull) {
    EXPECT_EQ(next_phase(JobPhase::sweep, true, false), JobPhase::add_check);
    EXPECT_EQ(next_phase(JobPhase::sweep, false, false), JobPhase::done);
    EXPECT_EQ(next_phase(JobPhase::add_check, true, false), JobPhase::validate);
    EXPECT_EQ(next_phase(JobPhase::add_check, true, true), JobPhase::validate);
    EXPECT_EQ(next_phase(JobPhase::add_check, false, false, true), JobPhase::validate);
    EXPECT_EQ(next_phase(JobPhase::validate, false, false, true), JobPhase::done);
    for (JobPhase p : kAllPhases) {
        if (p != JobPhase::sweep && p != JobPhase::add_check && p != JobPhase::validate) {
            EXPECT_EQ(next_phase(p, true, false), next_phase(p, false, false)) << phase_name(p);
        }
    }
}

// A nullable column with a CHECK or REFERENCES of its own: filled, then each constraint added NOT
// VALID and validated; no final sweep (no helper CHECK whose NULLs it would catch), no SET NOT NULL.
TEST(JobPhaseNext, StagedConstraintsOfANullableColumn) {
    const std::vector<JobPhase> expected{JobPhase::backfill, JobPhase::sweep, JobPhase::add_check,
                                         JobPhase::validate, JobPhase::done};
    EXPECT_EQ(chain(false, false, true), expected);
    // Without a backfill (a constant default, or none) the job starts at add_check.
    const std::vector<JobPhase> catalog_only{JobPhase::add_check, JobPhase::validate, JobPhase::done};
    EXPECT_EQ(chain(false, false, true, sc::first_phase(false, true)), catalog_only);
}

// NOT NULL with staged constraints: the same chain as NOT NULL alone (its add_check and validate
// steps take the staged constraints with the helper).
TEST(JobPhaseNext, StagedConstraintsOfANotNullColumn) {
    EXPECT_EQ(chain(true, false, true), chain(true, false, false));
    EXPECT_EQ(chain(true, true, true), chain(true, true, false));
}

TEST(JobPhaseFirst, BackfillThenConstraintsThenDone) {
    EXPECT_EQ(sc::first_phase(true, false), JobPhase::backfill);
    EXPECT_EQ(sc::first_phase(true, true), JobPhase::backfill);
    EXPECT_EQ(sc::first_phase(false, true), JobPhase::add_check);
    EXPECT_EQ(sc::first_phase(false, false), JobPhase::done);
}

TEST(JobPhaseNext, EveryPhaseReachesDoneWithConstraints) {
    for (bool not_null : {false, true})
        for (bool native : {false, true})
            for (JobPhase p : kAllPhases) {
                std::vector<JobPhase> c = chain(not_null, native, true, p);
                EXPECT_EQ(c.back(), JobPhase::done) << phase_name(p);
            }
}

TEST(JobPhaseAfterPass, StagedConstraintsFollowTheSweep) {
    PhaseInputs in = inputs(false, true, 1);
    in.staged_constraints = true;
    EXPECT_EQ(sc::after_pass(JobPhase::sweep, 0, in).next, JobPhase::add_check);
    in.staged_constraints = false;
    EXPECT_EQ(sc::after_pass(JobPhase::sweep, 0, in).next, JobPhase::done);
}

// ---------------------------------------------------------------------------------------------------
// after_sweep

TEST(JobPhaseAfterSweep, NoNullsLeftMovesOn) {
    for (JobPhase phase : {JobPhase::sweep, JobPhase::final_sweep})
        for (bool not_null : {false, true})
            for (bool new_rows_get_value : {false, true})
                for (long long filled : {0LL, 1LL, 1000000LL})
                    for (int passes : {1, 2, 3, 50}) {
                        EXPECT_EQ(after_sweep(phase, outcome(filled, false), inputs(not_null, new_rows_get_value, passes)),
                                  SweepNext::next_phase)
                            << phase_name(phase) << " not_null=" << not_null << " value=" << new_rows_get_value
                            << " filled=" << filled << " passes=" << passes;
                    }
}

// A nullable column whose new rows get no value: the application keeps inserting NULLs, so one pass
// is the whole sweep, whatever it found (even rows locked by others, even on the first pass).
TEST(JobPhaseAfterSweep, NullableColumnWithoutValueForNewRowsStopsAfterOnePass) {
    for (long long filled : {0LL, 1LL, 500LL})
        for (int passes : {1, 2})
            EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(filled, true), inputs(false, false, passes)),
                      SweepNext::next_phase)
                << "filled=" << filled << " passes=" << passes;
}

// That shortcut is for a nullable column only: NOT NULL without a default must go on sweeping.
TEST(JobPhaseAfterSweep, NotNullWithoutValueForNewRowsDoesNotTakeTheShortcut) {
    EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(10, true), inputs(true, false, 1)), SweepNext::another_pass);
    EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(0, true), inputs(true, false, 1)), SweepNext::wait_and_pass);
}

// Nor is it taken in the final sweep (where the CHECK already stops new NULLs).
TEST(JobPhaseAfterSweep, FinalSweepDoesNotTakeTheShortcut) {
    EXPECT_EQ(after_sweep(JobPhase::final_sweep, outcome(10, true), inputs(false, false, 1)), SweepNext::another_pass);
    EXPECT_EQ(after_sweep(JobPhase::final_sweep, outcome(0, true), inputs(false, false, 1)), SweepNext::wait_and_pass);
}

// Rows are left but the pass filled none: all of them are locked by other transactions.
TEST(JobPhaseAfterSweep, RowsLeftButNoneFilledWaitsAndPassesAgain) {
    for (JobPhase phase : {JobPhase::sweep, JobPhase::final_sweep})
        for (bool not_null : {false, true})
            for (int passes : {1, 2}) {
                EXPECT_EQ(after_sweep(phase, outcome(0, true), inputs(not_null, true, passes)), SweepNext::wait_and_pass)
                    << phase_name(phase) << " not_null=" << not_null << " passes=" << passes;
            }
    // NOT NULL without a value for new rows too.
    EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(0, true), inputs(true, false, 1)), SweepNext::wait_and_pass);
}

// Waiting for locked rows takes precedence over the pass cap (the order of the checks).
TEST(JobPhaseAfterSweep, WaitingForLockedRowsComesBeforeThePassCap) {
    EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(0, true), inputs(true, true, 3, 3)), SweepNext::wait_and_pass);
    EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(0, true), inputs(false, true, 10, 3)), SweepNext::wait_and_pass);
}

TEST(JobPhaseAfterSweep, RowsFilledAndLeftBelowTheCapRunsAnotherPass) {
    for (bool not_null : {false, true})
        for (int passes : {1, 2}) {
            EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(5, true), inputs(not_null, true, passes, 3)),
                      SweepNext::another_pass)
                << "not_null=" << not_null << " passes=" << passes;
        }
}

TEST(JobPhaseAfterSweep, SweepPassCapMovesOn) {
    for (bool not_null : {false, true}) {
        // Exactly at the cap and beyond it.
        EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(5, true), inputs(not_null, true, 3, 3)), SweepNext::next_phase)
            << not_null;
        EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(5, true), inputs(not_null, true, 4, 3)), SweepNext::next_phase)
            << not_null;
        // One below it.
        EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(5, true), inputs(not_null, true, 2, 3)), SweepNext::another_pass)
            << not_null;
        // The cap is the configured one, not a constant.
        EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(5, true), inputs(not_null, true, 3, 5)), SweepNext::another_pass)
            << not_null;
        EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(5, true), inputs(not_null, true, 5, 5)), SweepNext::next_phase)
            << not_null;
        EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(5, true), inputs(not_null, true, 1, 1)), SweepNext::next_phase)
            << not_null;
    }
}

// The final sweep runs until no NULL is left: no pass cap.
TEST(JobPhaseAfterSweep, FinalSweepHasNoCap) {
    for (int passes : {1, 3, 4, 100, 1000000})
        EXPECT_EQ(after_sweep(JobPhase::final_sweep, outcome(5, true), inputs(true, true, passes, 3)),
                  SweepNext::another_pass)
            << passes;
    EXPECT_EQ(after_sweep(JobPhase::final_sweep, outcome(5, true), inputs(true, true, 10, 1)), SweepNext::another_pass);
}

// The full decision table for the sweep phase with the default cap of 3.
TEST(JobPhaseAfterSweep, DecisionTableForTheSweepPhase) {
    struct Row {
        bool nulls_left;
        bool not_null;
        bool new_rows_get_value;
        long long filled;
        int passes;
        SweepNext expected;
    };
    const Row rows[] = {
        {false, false, false, 0, 1, SweepNext::next_phase},   {false, true, true, 9, 1, SweepNext::next_phase},
        {true, false, false, 0, 1, SweepNext::next_phase},    {true, false, false, 9, 1, SweepNext::next_phase},
        {true, false, true, 0, 1, SweepNext::wait_and_pass},  {true, true, false, 0, 1, SweepNext::wait_and_pass},
        {true, true, true, 0, 3, SweepNext::wait_and_pass},   {true, false, true, 9, 1, SweepNext::another_pass},
        {true, true, false, 9, 2, SweepNext::another_pass},   {true, true, true, 9, 3, SweepNext::next_phase},
        {true, false, true, 9, 3, SweepNext::next_phase},     {true, true, false, 9, 3, SweepNext::next_phase},
    };
    for (const Row &r : rows) {
        EXPECT_EQ(after_sweep(JobPhase::sweep, outcome(r.filled, r.nulls_left),
                              inputs(r.not_null, r.new_rows_get_value, r.passes, 3)),
                  r.expected)
            << "nulls_left=" << r.nulls_left << " not_null=" << r.not_null << " value=" << r.new_rows_get_value
            << " filled=" << r.filled << " passes=" << r.passes;
    }
}

// The phase table: every phase has exactly one kind of step, and the kinds follow the sequence.
TEST(JobPhaseStepKind, EveryPhaseHasItsKind) {
    using sc::StepKind;
    using sc::step_kind;
    EXPECT_EQ(step_kind(JobPhase::backfill), StepKind::fill);
    EXPECT_EQ(step_kind(JobPhase::sweep), StepKind::fill);
    EXPECT_EQ(step_kind(JobPhase::final_sweep), StepKind::fill);
    EXPECT_EQ(step_kind(JobPhase::add_check), StepKind::ddl);
    EXPECT_EQ(step_kind(JobPhase::validate), StepKind::ddl);
    EXPECT_EQ(step_kind(JobPhase::set_not_null), StepKind::ddl);
    EXPECT_EQ(step_kind(JobPhase::done), StepKind::finish);
    EXPECT_EQ(step_kind(static_cast<JobPhase>(99)), StepKind::finish);
}

// Walking the whole sequence through after_pass (every pass filling nothing left) and next_phase
// visits every phase of a NOT NULL job but the final sweep once (VALIDATE finds no NULL), and only
// backfill, sweep, done for a nullable one.
TEST(JobPhaseAfterPass, WalksTheSequence) {
    for (bool not_null : {false, true}) {
        std::vector<JobPhase> seen;
        JobPhase p = JobPhase::backfill;
        for (int i = 0; i < 20 && p != JobPhase::done; i++) {
            seen.push_back(p);
            if (sc::step_kind(p) == sc::StepKind::fill) {
                sc::PassEnd end = sc::after_pass(p, 0, inputs(not_null, true, 1, 3));
                EXPECT_FALSE(end.new_pass);
                EXPECT_FALSE(end.wait_first);
                p = end.next;
            } else {
                p = next_phase(p, not_null, false);
            }
        }
        seen.push_back(p);
        std::vector<JobPhase> expected =
            not_null ? std::vector<JobPhase>{JobPhase::backfill, JobPhase::sweep, JobPhase::add_check,
                                             JobPhase::validate, JobPhase::set_not_null,
                                             JobPhase::done}
                     : std::vector<JobPhase>{JobPhase::backfill, JobPhase::sweep, JobPhase::done};
        EXPECT_EQ(seen, expected) << "not_null=" << not_null;
    }
}

TEST(JobPhaseAfterPass, BackfillEndsAfterOnePassWhateverItFilled) {
    sc::PassEnd end = sc::after_pass(JobPhase::backfill, 12345, inputs(true, true, 0, 3));
    EXPECT_EQ(end.next, JobPhase::sweep);
    EXPECT_FALSE(end.new_pass);
}

TEST(JobPhaseAfterPass, SweepsFollowTheSweepDecision) {
    // Filled some: another pass now.
    sc::PassEnd more = sc::after_pass(JobPhase::final_sweep, 7, inputs(true, true, 1, 3));
    EXPECT_EQ(more.next, JobPhase::final_sweep);
    EXPECT_TRUE(more.new_pass);
    EXPECT_FALSE(more.wait_first);
    // The final sweep has no cap.
    sc::PassEnd uncapped = sc::after_pass(JobPhase::final_sweep, 7, inputs(true, true, 50, 3));
    EXPECT_EQ(uncapped.next, JobPhase::final_sweep);
    EXPECT_TRUE(uncapped.new_pass);
    // The sweep of a NOT NULL job is capped: on to the CHECK.
    sc::PassEnd capped = sc::after_pass(JobPhase::sweep, 7, inputs(true, true, 3, 3));
    EXPECT_EQ(capped.next, JobPhase::add_check);
    EXPECT_FALSE(capped.new_pass);
    // Filled none: nothing left, next phase.
    sc::PassEnd none = sc::after_pass(JobPhase::sweep, 0, inputs(false, true, 1, 3));
    EXPECT_EQ(none.next, JobPhase::done);
}

// A NULL that arrived before the CHECK: VALIDATE finds it, a final sweep fills it (passes until one
// fills nothing), and VALIDATE runs again; then the sequence goes on as without it.
TEST(JobPhaseCheckViolation, FinalSweepThenValidateAgain) {
    for (bool native : {false, true}) {
        JobPhase p = sc::phase_after_check_violation(JobPhase::validate);
        EXPECT_EQ(p, JobPhase::final_sweep);
        sc::PassEnd filled = sc::after_pass(p, 1, inputs(true, true, 1, 3));
        EXPECT_EQ(filled.next, JobPhase::final_sweep);
        EXPECT_TRUE(filled.new_pass);
        sc::PassEnd none = sc::after_pass(p, 0, inputs(true, true, 2, 3));
        EXPECT_EQ(none.next, JobPhase::validate);
        EXPECT_FALSE(none.new_pass);
        EXPECT_EQ(next_phase(JobPhase::validate, true, native), native ? JobPhase::done : JobPhase::set_not_null);
    }
}

TEST(JobPhaseCheckViolation, OnlyValidateGoesBack) {
    EXPECT_EQ(sc::phase_after_check_violation(JobPhase::validate), JobPhase::final_sweep);
    for (JobPhase p : {JobPhase::backfill, JobPhase::sweep, JobPhase::add_check, JobPhase::final_sweep,
                       JobPhase::set_not_null, JobPhase::done})
        EXPECT_EQ(sc::phase_after_check_violation(p), p);
}


// ---------------------------------------------------------------------------------------------------
// The column's own UNIQUE / PRIMARY KEY: its index is built last, once every row has its value (and,
// for a primary key, once the column is NOT NULL), then attached as the constraint.

TEST(JobPhaseIndex, NamesAndKinds) {
    EXPECT_STREQ(phase_name(JobPhase::build_index), "build_index");
    EXPECT_STREQ(phase_name(JobPhase::attach_index), "attach_index");
    JobPhase p{};
    ASSERT_TRUE(phase_from_name("build_index", &p));
    EXPECT_EQ(p, JobPhase::build_index);
    ASSERT_TRUE(phase_from_name("attach_index", &p));
    EXPECT_EQ(p, JobPhase::attach_index);
    EXPECT_EQ(sc::step_kind(JobPhase::build_index), sc::StepKind::index);
    EXPECT_EQ(sc::step_kind(JobPhase::attach_index), sc::StepKind::ddl);
    EXPECT_STREQ(state_for_phase(JobPhase::build_index), "validating");
    EXPECT_STREQ(state_for_phase(JobPhase::attach_index), "validating");
}

TEST(JobPhaseIndex, UniqueOfANullableColumnAfterItsFill) {
    const std::vector<JobPhase> expected{JobPhase::backfill, JobPhase::sweep, JobPhase::build_index,
                                         JobPhase::attach_index, JobPhase::done};
    EXPECT_EQ(chain(false, false, false, JobPhase::backfill, true), expected);
}

TEST(JobPhaseIndex, PrimaryKeyAfterSetNotNull) {
    const std::vector<JobPhase> expected{JobPhase::backfill,    JobPhase::sweep,    JobPhase::add_check,
                                         JobPhase::validate, JobPhase::set_not_null,
                                         JobPhase::build_index, JobPhase::attach_index, JobPhase::done};
    EXPECT_EQ(chain(true, false, false, JobPhase::backfill, true), expected);
    // 18 and later: the validated NOT NULL ends the NOT NULL sequence, the index follows it.
    const std::vector<JobPhase> native{JobPhase::backfill,    JobPhase::sweep,       JobPhase::add_check,
                                       JobPhase::validate,    JobPhase::build_index,
                                       JobPhase::attach_index, JobPhase::done};
    EXPECT_EQ(chain(true, true, false, JobPhase::backfill, true), native);
}

TEST(JobPhaseIndex, AfterStagedConstraintsAndWithoutBackfill) {
    const std::vector<JobPhase> with_check{JobPhase::add_check, JobPhase::validate, JobPhase::build_index,
                                           JobPhase::attach_index, JobPhase::done};
    EXPECT_EQ(chain(false, false, true, sc::first_phase(false, true, true), true), with_check);
    EXPECT_EQ(sc::first_phase(false, false, true), JobPhase::build_index);
    EXPECT_EQ(sc::first_phase(true, false, true), JobPhase::backfill);
    // A backfill pass that ends goes on to the index when nothing else is left.
    PhaseInputs in = inputs(false, true, 1);
    in.staged_index = true;
    EXPECT_EQ(sc::after_pass(JobPhase::sweep, 0, in).next, JobPhase::build_index);
}

TEST(JobPhaseIndex, EveryPhaseReachesDoneOnce) {
    for (bool not_null : {false, true})
        for (bool native : {false, true})
            for (JobPhase p : kAllPhases) {
                std::vector<JobPhase> c = chain(not_null, native, true, p, true);
                EXPECT_EQ(c.back(), JobPhase::done) << phase_name(p);
                EXPECT_LE(std::count(c.begin(), c.end(), JobPhase::build_index), 1) << phase_name(p);
            }
}

// An identity column: filled from a staging sequence, NOT NULL, then made an identity (set_identity),
// before its index when it has a primary key.
TEST(JobPhaseIdentity, AfterNotNullBeforeTheIndex) {
    auto chain_of = [](bool native, bool index) {
        std::vector<JobPhase> out{JobPhase::backfill};
        while (out.back() != JobPhase::done && out.size() < 20)
            out.push_back(next_phase(out.back(), true, native, false, index, true));
        return out;
    };
    const std::vector<JobPhase> plain{JobPhase::backfill,    JobPhase::sweep,    JobPhase::add_check,
                                      JobPhase::validate, JobPhase::set_not_null,
                                      JobPhase::set_identity, JobPhase::done};
    EXPECT_EQ(chain_of(false, false), plain);
    const std::vector<JobPhase> native_pk{JobPhase::backfill,     JobPhase::sweep,       JobPhase::add_check,
                                          JobPhase::validate,    JobPhase::set_identity,
                                          JobPhase::build_index,  JobPhase::attach_index, JobPhase::done};
    EXPECT_EQ(chain_of(true, true), native_pk);
    EXPECT_EQ(sc::step_kind(JobPhase::set_identity), sc::StepKind::ddl);
    EXPECT_STREQ(phase_name(JobPhase::set_identity), "set_identity");
    for (JobPhase p : kAllPhases) {
        JobPhase q = p;
        int n = 0;
        while (q != JobPhase::done && n++ < 20)
            q = next_phase(q, true, false, true, true, true);
        EXPECT_EQ(q, JobPhase::done) << phase_name(p);
    }
}

}  // namespace
