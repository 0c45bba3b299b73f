#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/checkpoint_pace.hpp"

using namespace sc;

namespace {
constexpr double MB = 1024.0 * 1024.0;
}

TEST(CheckpointMinInterval, DerivedFromCheckpointWarningWithAMargin) {
    EXPECT_DOUBLE_EQ(checkpoint_min_interval_s(-1, 30), 33.0);
    EXPECT_DOUBLE_EQ(checkpoint_min_interval_s(-1, 300), 330.0);
    // checkpoint_warning off: PostgreSQL's default stands for it.
    EXPECT_DOUBLE_EQ(checkpoint_min_interval_s(-1, 0), 33.0);
}

TEST(CheckpointMinInterval, AnExplicitSettingWinsAndZeroDisables) {
    EXPECT_DOUBLE_EQ(checkpoint_min_interval_s(120, 30), 120.0);
    EXPECT_DOUBLE_EQ(checkpoint_min_interval_s(0, 30), 0.0);
}

TEST(CheckpointPaceRate, FillsTheDistanceInTheInterval) {
    // max_wal_size 1GB: a checkpoint is forced after about 512 MB; no closer than 33 s.
    EXPECT_NEAR(checkpoint_pace_rate(512 * MB, 33.0) / MB, 15.5, 0.1);
    EXPECT_DOUBLE_EQ(checkpoint_pace_rate(512 * MB, 0.0), 0.0);
    EXPECT_DOUBLE_EQ(checkpoint_pace_rate(0.0, 33.0), 0.0);
    EXPECT_DOUBLE_EQ(checkpoint_pace_rate(std::nan(""), 33.0), 0.0);
    EXPECT_DOUBLE_EQ(checkpoint_pace_rate(512 * MB, std::numeric_limits<double>::infinity()), 0.0);
}

TEST(CheckpointPaceLine, RisesFromASlackToTheWholeDistanceAtTheInterval) {
    // Half the 3 s margin of 33 s: a forced checkpoint comes no sooner than 31.5 s, past the 30 s of
    // checkpoint_warning.
    EXPECT_NEAR(checkpoint_pace_line(0.0, 33.0) * 33.0, 1.5, 1e-9);
    EXPECT_NEAR(checkpoint_pace_line(31.5, 33.0), 1.0, 1e-9);
    EXPECT_NEAR(checkpoint_pace_line(10.0, 33.0), 11.5 / 33.0, 1e-9);
    EXPECT_GT(checkpoint_pace_line(100.0, 33.0), 1.0);
}

TEST(CheckpointPaceLine, NoPaceIsNoLineAndABackwardClockIsTheStart) {
    EXPECT_TRUE(std::isinf(checkpoint_pace_line(10.0, 0.0)));
    EXPECT_TRUE(std::isinf(checkpoint_pace_line(10.0, std::nan(""))));
    EXPECT_DOUBLE_EQ(checkpoint_pace_line(-5.0, 33.0), checkpoint_pace_line(0.0, 33.0));
    EXPECT_DOUBLE_EQ(checkpoint_pace_line(std::nan(""), 33.0), checkpoint_pace_line(0.0, 33.0));
}

TEST(CheckpointPaceAllowance, WhatMayBeWrittenAtOnceIsWhatTheLineLeaves) {
    // 10 s into a 33 s interval, 100 MB written of a 512 MB cycle: the line allows 11.5/33 of it.
    CheckpointCycle c{100 * MB, 512 * MB, 10.0};
    EXPECT_NEAR(checkpoint_pace_allowance(c, 33.0), 11.5 / 33.0 * 512 * MB - 100 * MB, 1.0);
    // Ahead of the line: nothing now (never negative).
    c.since_redo = 400 * MB;
    EXPECT_DOUBLE_EQ(checkpoint_pace_allowance(c, 33.0), 0.0);
    // A VACUUM of 8 MB right after a checkpoint on a 16 MB cycle (max_wal_size 64MB) would force the next
    // one within a second: it is not allowed yet ...
    CheckpointCycle small{0.5 * MB, 16 * MB, 1.0};
    EXPECT_LT(checkpoint_pace_allowance(small, 4.4), 8 * MB);
    // ... but later in the cycle, and at any size once the interval has passed.
    small.elapsed_s = 3.5;
    EXPECT_GE(checkpoint_pace_allowance(small, 4.4), 8 * MB);
    small.elapsed_s = 4.4;
    EXPECT_TRUE(std::isinf(checkpoint_pace_allowance(small, 4.4)));
}

TEST(CheckpointPaceAllowance, NoPaceOrNoDistanceIsNoLimit) {
    EXPECT_TRUE(std::isinf(checkpoint_pace_allowance(CheckpointCycle{0, 512 * MB, 0}, 0.0)));
    EXPECT_TRUE(std::isinf(checkpoint_pace_allowance(CheckpointCycle{0, 0, 0}, 33.0)));
    EXPECT_TRUE(std::isinf(checkpoint_pace_allowance(CheckpointCycle{0, std::nan(""), 0}, 33.0)));
}
