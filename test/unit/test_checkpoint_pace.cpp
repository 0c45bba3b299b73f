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

TEST(CheckpointPacePause, NoneWhileUnderTheLine) {
    // 10 s into the cycle, the line is at 10/33 of the distance.
    CheckpointCycle c{100 * MB, 512 * MB, 10.0};
    EXPECT_DOUBLE_EQ(pause_for_checkpoint_pace_ms(c, 33.0), 0.0);
}

TEST(CheckpointPacePause, UntilTheLineReachesTheWalWritten) {
    // Half the distance written 10 s into the cycle: the line reaches it at 16.5 s.
    CheckpointCycle c{256 * MB, 512 * MB, 10.0};
    EXPECT_NEAR(pause_for_checkpoint_pace_ms(c, 33.0), 6500.0, 1e-6);
    // Right after the checkpoint started, any WAL is ahead of the line.
    CheckpointCycle start{1 * MB, 512 * MB, 0.0};
    EXPECT_NEAR(pause_for_checkpoint_pace_ms(start, 33.0), 33.0 / 512 * 1000.0, 1e-6);
}

TEST(CheckpointPacePause, NeverPastTheIntervalEvenBeyondTheDistance) {
    // The foreground alone went past the distance (a forced checkpoint is coming): the backfill waits
    // at most until the interval is over, then a checkpoint it causes is no closer than the interval.
    CheckpointCycle past{900 * MB, 512 * MB, 3.0};
    EXPECT_NEAR(pause_for_checkpoint_pace_ms(past, 33.0), 30000.0, 1e-6);
    CheckpointCycle late{900 * MB, 512 * MB, 40.0};
    EXPECT_DOUBLE_EQ(pause_for_checkpoint_pace_ms(late, 33.0), 0.0);
}

TEST(CheckpointPacePause, NoPaceOrNonsenseMeansNoPause) {
    CheckpointCycle c{256 * MB, 512 * MB, 1.0};
    EXPECT_DOUBLE_EQ(pause_for_checkpoint_pace_ms(c, 0.0), 0.0);
    CheckpointCycle nan_wal{std::nan(""), 512 * MB, 1.0};
    EXPECT_DOUBLE_EQ(pause_for_checkpoint_pace_ms(nan_wal, 33.0), 0.0);
    // A clock gone backwards counts as the cycle's start.
    CheckpointCycle back{256 * MB, 512 * MB, -5.0};
    EXPECT_NEAR(pause_for_checkpoint_pace_ms(back, 33.0), 16500.0, 1e-6);
}
