// Unit tests of src/core/batch_sizer: the adaptive backfill batch size and the pause after a batch.
#include "core/batch_sizer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <vector>

namespace {

using sc::BatchSizer;
using sc::BatchSizerConfig;
using sc::effective_target_ms;
using sc::kUnthrottledMinTargetMs;
using sc::pause_after_batch_ms;
using sc::pause_for_wal_rate_ms;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

BatchSizerConfig make_config(double target_ms, int min_blocks, int max_blocks, int initial_blocks) {
    BatchSizerConfig c;
    c.target_ms = target_ms;
    c.min_blocks = min_blocks;
    c.max_blocks = max_blocks;
    c.initial_blocks = initial_blocks;
    return c;
}

// A fake table where a batch of b blocks takes b * ms_per_block ms: run one batch of the size the sizer
// asks for and report its duration back. Returns the size the batch had.
int run_batch(BatchSizer &sizer, double ms_per_block) {
    const int b = sizer.next_blocks();
    sizer.observe(b, b * ms_per_block);
    return b;
}

// The ideal size target / c, clamped to the bounds.
double ideal_blocks(const BatchSizerConfig &c, double ms_per_block) {
    double ideal = c.target_ms / ms_per_block;
    if (ideal < c.min_blocks)
        ideal = c.min_blocks;
    if (ideal > c.max_blocks)
        ideal = c.max_blocks;
    return ideal;
}

bool within_2x(double blocks, double ideal) { return blocks >= ideal / 2.0 && blocks <= ideal * 2.0; }

// ---------------------------------------------------------------------------------------------------
// Construction and configuration

TEST(BatchSizerConfig, DefaultsStartAtTheInitialSizeWithNoMeasurement) {
    BatchSizer s{BatchSizerConfig{}};
    EXPECT_EQ(s.next_blocks(), 4);
    EXPECT_LT(s.ms_per_block(), 0.0);  // nothing measured yet
}

TEST(BatchSizerConfig, InitialSizeIsClampedToTheBounds) {
    EXPECT_EQ(BatchSizer(make_config(100.0, 8, 64, 2)).next_blocks(), 8);
    EXPECT_EQ(BatchSizer(make_config(100.0, 8, 64, 1000)).next_blocks(), 64);
    EXPECT_EQ(BatchSizer(make_config(100.0, 8, 64, 20)).next_blocks(), 20);
}

TEST(BatchSizerConfig, NonPositiveMinBlocksBecomesOne) {
    for (int min_blocks : {0, -1, INT_MIN}) {
        BatchSizer s(make_config(100.0, min_blocks, 100, 0));
        EXPECT_EQ(s.next_blocks(), 1) << min_blocks;
        for (int i = 0; i < 10; ++i)
            s.failed();
        EXPECT_EQ(s.next_blocks(), 1) << min_blocks;
        // Far too slow: still at least one block.
        s.observe(1, 1e9);
        EXPECT_EQ(s.next_blocks(), 1) << min_blocks;
    }
}

TEST(BatchSizerConfig, MaxBelowMinBecomesMin) {
    for (int max_blocks : {5, 0, -3, INT_MIN}) {
        BatchSizer s(make_config(100.0, 10, max_blocks, 7));
        EXPECT_EQ(s.next_blocks(), 10) << max_blocks;
        s.observe(10, 0.5);  // far too fast: would grow
        EXPECT_EQ(s.next_blocks(), 10) << max_blocks;
        s.observe(10, 1e6);  // far too slow: would shrink
        EXPECT_EQ(s.next_blocks(), 10) << max_blocks;
        s.failed();
        EXPECT_EQ(s.next_blocks(), 10) << max_blocks;
    }
}

// A nonsense target (zero, negative, NaN) is replaced by the default 100 ms: the sizer then behaves
// exactly like one configured with 100 ms.
TEST(BatchSizerConfig, NonPositiveOrNaNTargetBecomesTheDefault) {
    for (double target : {0.0, -1.0, -100.0, kNaN, -kInf}) {
        BatchSizer bad(make_config(target, 1, 8192, 4));
        BatchSizer good(make_config(100.0, 1, 8192, 4));
        for (int step = 0; step < 20; ++step) {
            const int b = run_batch(good, 1.0);
            ASSERT_EQ(bad.next_blocks(), b) << "target " << target << " step " << step;
            bad.observe(b, b * 1.0);
        }
        EXPECT_EQ(bad.next_blocks(), 100) << target;  // 100 ms / 1 ms per block
    }
}

// ---------------------------------------------------------------------------------------------------
// observe(): direction and step limits

TEST(BatchSizerObserve, MeasuresMsPerBlockFromTheReportedBatch) {
    BatchSizer s(make_config(100.0, 1, 8192, 4));
    s.observe(10, 50.0);  // the reported size, not next_blocks(), is what the batch covered
    EXPECT_DOUBLE_EQ(s.ms_per_block(), 5.0);
    EXPECT_EQ(s.next_blocks(), 8);  // ideal 20, growth capped at x2 from 4
}

TEST(BatchSizerObserve, OnTargetKeepsTheSize) {
    BatchSizer s(make_config(100.0, 1, 8192, 50));
    for (int i = 0; i < 10; ++i) {
        s.observe(50, 100.0);
        EXPECT_EQ(s.next_blocks(), 50) << i;
    }
}

TEST(BatchSizerObserve, MovesToTheIdealSizeWhenWithinTheStepLimits) {
    BatchSizer grow(make_config(100.0, 1, 8192, 40));
    grow.observe(40, 50.0);  // 1.25 ms/block: ideal 80 = exactly x2
    EXPECT_EQ(grow.next_blocks(), 80);

    BatchSizer shrink(make_config(100.0, 1, 8192, 40));
    shrink.observe(40, 200.0);  // 5 ms/block: ideal 20
    EXPECT_EQ(shrink.next_blocks(), 20);
}

TEST(BatchSizerObserve, GrowsAtMostTwofoldPerStep) {
    BatchSizer s(make_config(100.0, 1, 1 << 20, 4));
    int prev = s.next_blocks();
    for (int step = 0; step < 12; ++step) {
        run_batch(s, 1e-6);  // absurdly fast: the ideal size is huge
        EXPECT_EQ(s.next_blocks(), prev * 2) << step;
        prev = s.next_blocks();
    }
}

TEST(BatchSizerObserve, GrowsFromOneBlock) {
    BatchSizer s(make_config(100.0, 1, 8192, 1));
    s.observe(1, 1.0);
    EXPECT_EQ(s.next_blocks(), 2);
}

TEST(BatchSizerObserve, ShrinksAtMostFourfoldPerStep) {
    // Sizes divisible by 4 all the way down, so that rounding plays no part.
    BatchSizer s(make_config(100.0, 1, 1 << 20, 4096));
    int prev = s.next_blocks();
    for (int step = 0; step < 6; ++step) {
        run_batch(s, 1e6);  // absurdly slow: the ideal size is far below one block
        EXPECT_EQ(s.next_blocks(), prev / 4) << step;
        prev = s.next_blocks();
    }
    EXPECT_EQ(prev, 1);
    run_batch(s, 1e6);
    EXPECT_EQ(s.next_blocks(), 1);
}

// The header promises "at most ... quartering per step", but the new size is truncated to an int after
// the clamp to [blocks/4, 2*blocks], so when blocks is not a multiple of 4 one step can cut it by more
// than 4x (7 -> 1, 9 -> 2).
TEST(BatchSizerObserve, ShrinkNeverExceedsFourfoldForSizesNotDivisibleByFour) {
    for (int initial : {5, 6, 7, 9, 10, 11, 13, 1001}) {
        BatchSizer s(make_config(100.0, 1, 1 << 20, initial));
        s.observe(initial, 1e9);
        EXPECT_GE(s.next_blocks() * 4, initial) << initial;
    }
}

TEST(BatchSizerObserve, NeverLeavesTheBounds) {
    const BatchSizerConfig c = make_config(100.0, 3, 50, 10);
    BatchSizer s(c);
    const double costs[] = {1e-6, 0.01, 1.0, 1e3, 1e9, 0.0, 7.0, 1e-3};
    for (int round = 0; round < 5; ++round)
        for (double cost : costs) {
            run_batch(s, cost);
            EXPECT_GE(s.next_blocks(), 3) << cost;
            EXPECT_LE(s.next_blocks(), 50) << cost;
        }
}

TEST(BatchSizerObserve, ZeroElapsedCountsAsVeryFast) {
    BatchSizer s(make_config(100.0, 1, 8192, 4));
    s.observe(4, 0.0);
    EXPECT_EQ(s.next_blocks(), 8);
    EXPECT_GT(s.ms_per_block(), 0.0);
    EXPECT_TRUE(std::isfinite(s.ms_per_block()));
}

TEST(BatchSizerObserve, NoOverflowNearIntMax) {
    BatchSizer s(make_config(100.0, 1, INT_MAX, 1 << 20));
    int prev = s.next_blocks();
    for (int step = 0; step < 20; ++step) {
        run_batch(s, 1e-9);
        ASSERT_GE(s.next_blocks(), prev) << step;
        prev = s.next_blocks();
    }
    EXPECT_EQ(prev, INT_MAX);
}

TEST(BatchSizerObserve, NonsenseInputsChangeNothing) {
    struct Bad {
        int blocks;
        double elapsed_ms;
    };
    const Bad bad[] = {
        {0, 10.0},    {-1, 10.0},   {INT_MIN, 10.0}, {10, -1.0},    {10, -1e-9},
        {10, kNaN},   {10, kInf},   {10, -kInf},     {0, kNaN},     {-5, -5.0},
    };
    // Before any measurement and after one.
    for (bool measured : {false, true}) {
        BatchSizer s(make_config(100.0, 1, 8192, 16));
        if (measured)
            s.observe(16, 100.0);  // on target: stays 16, 6.25 ms/block
        const int blocks = s.next_blocks();
        const double mpb = s.ms_per_block();
        for (const Bad &b : bad) {
            s.observe(b.blocks, b.elapsed_ms);
            EXPECT_EQ(s.next_blocks(), blocks) << b.blocks << " " << b.elapsed_ms;
            EXPECT_EQ(s.ms_per_block(), mpb) << b.blocks << " " << b.elapsed_ms;
        }
    }
}

// Nonsense observations do not poison the smoothing: the next valid one acts as on a fresh sizer.
TEST(BatchSizerObserve, NonsenseInputsDoNotPoisonLaterObservations) {
    BatchSizer fresh(make_config(100.0, 1, 8192, 16));
    BatchSizer s(make_config(100.0, 1, 8192, 16));
    s.observe(16, kNaN);
    s.observe(16, kInf);
    s.observe(0, 5.0);
    s.observe(16, -3.0);
    fresh.observe(16, 400.0);
    s.observe(16, 400.0);
    EXPECT_EQ(s.next_blocks(), fresh.next_blocks());
    EXPECT_DOUBLE_EQ(s.ms_per_block(), fresh.ms_per_block());
    EXPECT_DOUBLE_EQ(s.ms_per_block(), 25.0);
}

// ---------------------------------------------------------------------------------------------------
// Smoothing of ms_per_block

TEST(BatchSizerSmoothing, OneOutlierMovesTheEstimateOnlyPartWay) {
    BatchSizer s(make_config(100.0, 1, 8192, 10));
    s.observe(10, 50.0);
    ASSERT_DOUBLE_EQ(s.ms_per_block(), 5.0);
    s.observe(10, 150.0);  // 15 ms/block
    EXPECT_GT(s.ms_per_block(), 5.0);
    EXPECT_LT(s.ms_per_block(), 15.0);
}

TEST(BatchSizerSmoothing, ConvergesToASteadyNewRate) {
    BatchSizer s(make_config(100.0, 1, 8192, 10));
    s.observe(10, 50.0);
    double prev = s.ms_per_block();
    for (int i = 0; i < 20; ++i) {
        s.observe(10, 150.0);
        EXPECT_GT(s.ms_per_block(), prev) << i;  // monotone towards 15
        EXPECT_LE(s.ms_per_block(), 15.0) << i;
        prev = s.ms_per_block();
    }
    EXPECT_NEAR(s.ms_per_block(), 15.0, 0.15);
}

// One slow batch (a checkpoint, a burst of application load) does not collapse the size to what that
// batch alone would suggest.
TEST(BatchSizerSmoothing, OneSlowBatchDoesNotCollapseTheSize) {
    BatchSizer s(make_config(100.0, 1, 8192, 100));
    for (int i = 0; i < 10; ++i)
        s.observe(100, 100.0);  // 1 ms/block, on target
    ASSERT_EQ(s.next_blocks(), 100);
    s.observe(100, 300.0);  // one batch at 3 ms/block: its own ideal would be 33
    EXPECT_GT(s.next_blocks(), 34);
    EXPECT_LT(s.next_blocks(), 100);
}

// ---------------------------------------------------------------------------------------------------
// Simulation: a fake table where b blocks take b * c ms

class BatchSizerSimulation : public ::testing::TestWithParam<double> {};

TEST_P(BatchSizerSimulation, ConvergesToWithinTwiceTheIdealSizeWithinFifteenSteps) {
    const double c = GetParam();
    const BatchSizerConfig config = make_config(100.0, 1, 8192, 4);
    const double ideal = ideal_blocks(config, c);
    BatchSizer s(config);
    int steps_to_converge = -1;
    for (int step = 1; step <= 15; ++step) {
        run_batch(s, c);
        if (within_2x(s.next_blocks(), ideal)) {
            steps_to_converge = step;
            break;
        }
    }
    ASSERT_NE(steps_to_converge, -1) << "c=" << c << " ideal=" << ideal << " got " << s.next_blocks();
    // And it stays there.
    for (int step = 0; step < 50; ++step) {
        run_batch(s, c);
        EXPECT_TRUE(within_2x(s.next_blocks(), ideal)) << "c=" << c << " step " << step << ": " << s.next_blocks();
    }
    // The batches then take about the target duration (unless a bound stops it).
    const double batch_ms = s.next_blocks() * c;
    if (ideal == config.target_ms / c) {
        EXPECT_GE(batch_ms, config.target_ms / 2.0) << c;
        EXPECT_LE(batch_ms, config.target_ms * 2.0) << c;
    }
}

// 0.05 ms/block -> 2000 blocks, 1 -> 100, 20 -> 5; 1e-4 and 1e-2 hit max_blocks; 500 hits min_blocks.
INSTANTIATE_TEST_SUITE_P(MsPerBlock, BatchSizerSimulation, ::testing::Values(0.05, 1.0, 20.0, 1e-4, 1e-2, 500.0));

TEST(BatchSizerSimulationBounds, ConvergesToTheClampedIdealWithCustomBounds) {
    // Ideal 100 blocks, but max 30: converge to 30. Ideal 2 blocks, but min 16: stay 16.
    {
        BatchSizer s(make_config(100.0, 1, 30, 4));
        for (int step = 0; step < 15; ++step)
            run_batch(s, 1.0);
        EXPECT_EQ(s.next_blocks(), 30);
    }
    {
        BatchSizer s(make_config(100.0, 16, 8192, 64));
        for (int step = 0; step < 15; ++step)
            run_batch(s, 50.0);
        EXPECT_EQ(s.next_blocks(), 16);
    }
}

TEST(BatchSizerSimulationSlowdown, SuddenTenfoldSlowdownShrinksWithinAFewSteps) {
    const BatchSizerConfig config = make_config(100.0, 1, 8192, 4);
    for (double c : {0.05, 1.0, 2.0}) {
        BatchSizer s(config);
        for (int step = 0; step < 30; ++step)
            run_batch(s, c);
        const int before = s.next_blocks();
        ASSERT_TRUE(within_2x(before, ideal_blocks(config, c))) << c;

        const double slow = 10.0 * c;
        const double new_ideal = ideal_blocks(config, slow);
        int prev = before;
        int steps = 0;
        do {
            run_batch(s, slow);
            ++steps;
            EXPECT_LT(s.next_blocks(), prev) << "c=" << c << " step " << steps << ": still too slow, must shrink";
            // At most quartered (the exact bound up to the truncation to whole blocks, see
            // ShrinkNeverExceedsFourfoldForSizesNotDivisibleByFour).
            EXPECT_GE(s.next_blocks(), prev / 4) << "c=" << c << " step " << steps;
            prev = s.next_blocks();
        } while (!within_2x(s.next_blocks(), new_ideal) && steps < 10);
        EXPECT_TRUE(within_2x(s.next_blocks(), new_ideal))
            << "c=" << c << " after " << steps << " slow steps: " << s.next_blocks() << " vs ideal " << new_ideal;
        EXPECT_LE(steps, 4) << c;
    }
}

TEST(BatchSizerSimulationSlowdown, RecoversAfterTheSlowdownEnds) {
    const BatchSizerConfig config = make_config(100.0, 1, 8192, 4);
    BatchSizer s(config);
    for (int step = 0; step < 30; ++step)
        run_batch(s, 1.0);
    for (int step = 0; step < 30; ++step)
        run_batch(s, 10.0);
    ASSERT_TRUE(within_2x(s.next_blocks(), 10.0));
    for (int step = 0; step < 15; ++step)
        run_batch(s, 1.0);
    EXPECT_TRUE(within_2x(s.next_blocks(), 100.0)) << s.next_blocks();
}

// ---------------------------------------------------------------------------------------------------
// failed()

TEST(BatchSizerFailed, Halves) {
    BatchSizer s(make_config(100.0, 1, 8192, 40));
    s.failed();
    EXPECT_EQ(s.next_blocks(), 20);
    s.failed();
    EXPECT_EQ(s.next_blocks(), 10);
    s.failed();
    EXPECT_EQ(s.next_blocks(), 5);
    s.failed();
    EXPECT_EQ(s.next_blocks(), 2);
}

TEST(BatchSizerFailed, NeverGoesBelowMinBlocks) {
    {
        BatchSizer s(make_config(100.0, 5, 8192, 7));
        s.failed();  // 7 / 2 = 3 < 5
        EXPECT_EQ(s.next_blocks(), 5);
        for (int i = 0; i < 10; ++i)
            s.failed();
        EXPECT_EQ(s.next_blocks(), 5);
    }
    {
        BatchSizer s(make_config(100.0, 1, 8192, 1));
        for (int i = 0; i < 10; ++i)
            s.failed();
        EXPECT_EQ(s.next_blocks(), 1);
    }
}

TEST(BatchSizerFailed, DoesNotTouchTheMeasurement) {
    BatchSizer s(make_config(100.0, 1, 8192, 64));
    s.observe(64, 128.0);  // 2 ms/block: ideal 50
    ASSERT_EQ(s.next_blocks(), 50);
    s.failed();
    EXPECT_EQ(s.next_blocks(), 25);
    EXPECT_DOUBLE_EQ(s.ms_per_block(), 2.0);
}

// ---------------------------------------------------------------------------------------------------
// set_target_ms()

TEST(BatchSizerSetTarget, NewTargetAppliesFromTheNextObservation) {
    BatchSizer s(make_config(100.0, 1, 8192, 4));
    for (int step = 0; step < 30; ++step)
        run_batch(s, 1.0);
    ASSERT_EQ(s.next_blocks(), 100);
    s.set_target_ms(400.0);
    EXPECT_EQ(s.next_blocks(), 100);  // nothing changes until a batch is observed
    run_batch(s, 1.0);
    EXPECT_EQ(s.next_blocks(), 200);  // growth still capped at x2
    for (int step = 0; step < 10; ++step)
        run_batch(s, 1.0);
    EXPECT_EQ(s.next_blocks(), 400);

    s.set_target_ms(25.0);
    for (int step = 0; step < 10; ++step)
        run_batch(s, 1.0);
    EXPECT_EQ(s.next_blocks(), 25);
}

TEST(BatchSizerSetTarget, NonsenseTargetIsIgnored) {
    for (double target : {0.0, -1.0, kNaN, -kInf}) {
        BatchSizer s(make_config(50.0, 1, 8192, 4));
        BatchSizer ref(make_config(50.0, 1, 8192, 4));
        s.set_target_ms(target);
        for (int step = 0; step < 20; ++step) {
            const int b = run_batch(ref, 1.0);
            ASSERT_EQ(s.next_blocks(), b) << target << " step " << step;
            s.observe(b, b * 1.0);
        }
        EXPECT_EQ(s.next_blocks(), 50) << target;
    }
}

// ---------------------------------------------------------------------------------------------------
// effective_target_ms()

// Throttled: the configured target, however small or large.
TEST(BatchSizerEffectiveTarget, ThrottledIsTheConfiguredTarget) {
    for (double t : {1.0, 2.5, 9.99, 10.0, 50.0, 10000.0})
        EXPECT_DOUBLE_EQ(effective_target_ms(t, true), t) << t;
}

// Unthrottled: at least 10 ms, a larger target kept.
TEST(BatchSizerEffectiveTarget, UnthrottledIsAtLeastTheFloor) {
    EXPECT_DOUBLE_EQ(kUnthrottledMinTargetMs, 10.0);
    for (double t : {0.5, 1.0, 5.0, 9.99})
        EXPECT_DOUBLE_EQ(effective_target_ms(t, false), kUnthrottledMinTargetMs) << t;
    for (double t : {10.0, 20.0, 10000.0})
        EXPECT_DOUBLE_EQ(effective_target_ms(t, false), t) << t;
}

// Garbage passes through, for set_target_ms() to ignore (the sizer keeps its last good target).
TEST(BatchSizerEffectiveTarget, NaNIsIgnoredBySetTarget) {
    EXPECT_TRUE(std::isnan(effective_target_ms(kNaN, false)));
    EXPECT_TRUE(std::isnan(effective_target_ms(kNaN, true)));
    BatchSizer s(make_config(5.0, 1, 1000, 4));
    s.set_target_ms(effective_target_ms(kNaN, false));
    s.observe(4, 4.0);  // 1 ms a block: 5 blocks for the 5 ms it still aims at
    EXPECT_EQ(s.next_blocks(), 5);
}

// ---------------------------------------------------------------------------------------------------
// pause_after_batch_ms()

TEST(BatchSizerPause, IsTheBatchTimeTimesTheRatio) {
    EXPECT_DOUBLE_EQ(pause_after_batch_ms(100.0, 1.0), 100.0);
    EXPECT_DOUBLE_EQ(pause_after_batch_ms(100.0, 0.5), 50.0);
    EXPECT_DOUBLE_EQ(pause_after_batch_ms(40.0, 3.0), 120.0);
}

// The worker spends 1 / (1 + r) of its time in batches.
TEST(BatchSizerPause, GivesTheDutyCycle) {
    for (double r : {0.1, 0.25, 1.0, 3.0, 9.0})
        for (double batch : {1.0, 50.0, 2000.0}) {
            const double pause = pause_after_batch_ms(batch, r);
            EXPECT_NEAR(batch / (batch + pause), 1.0 / (1.0 + r), 1e-12) << batch << " " << r;
        }
}

// A pathological batch does not put the worker to sleep for hours: the pause is capped at a minute
// (so for batch_ms * r above 60 s the duty cycle is higher than 1 / (1 + r)).
TEST(BatchSizerPause, IsCappedAtOneMinute) {
    EXPECT_DOUBLE_EQ(pause_after_batch_ms(60000.0, 1.0), 60000.0);
    EXPECT_DOUBLE_EQ(pause_after_batch_ms(100000.0, 1.0), 60000.0);
    EXPECT_DOUBLE_EQ(pause_after_batch_ms(1000.0, 1e9), 60000.0);
    EXPECT_DOUBLE_EQ(pause_after_batch_ms(1e300, 1e300), 60000.0);
}

TEST(BatchSizerPause, NoPauseForNonsenseOrZeroInputs) {
    const double bad[] = {0.0, -1.0, kNaN, kInf, -kInf};
    for (double b : bad) {
        EXPECT_EQ(pause_after_batch_ms(b, 1.0), 0.0) << b;
        EXPECT_EQ(pause_after_batch_ms(100.0, b), 0.0) << b;
    }
}

// ---------------------------------------------------------------------------------------------------
// pause_for_wal_rate_ms()

// 1 MB in a step of 10 ms under a limit of 16 MB/s: the step must last 62.5 ms, so 52.5 ms of pause.
TEST(WalRatePause, StretchesTheStepToTheLimit) {
    EXPECT_DOUBLE_EQ(pause_for_wal_rate_ms(1e6, 10.0, 16e6), 52.5);
    EXPECT_DOUBLE_EQ(pause_for_wal_rate_ms(1e6, 0.0, 1e6), 1000.0);
}

// Step plus pause writes exactly the limit, whatever the step's size and duration.
TEST(WalRatePause, AveragesTheLimit) {
    for (double wal : {8192.0, 250e3, 4e6})
        for (double ms : {0.2, 1.0, 30.0})
            for (double cap : {1e6, 16e6, 64e6}) {
                const double pause = pause_for_wal_rate_ms(wal, ms, cap);
                if (pause > 0.0)
                    EXPECT_NEAR(wal / ((ms + pause) / 1000.0), cap, cap * 1e-9) << wal << " " << ms << " " << cap;
                else
                    EXPECT_LE(wal / (ms / 1000.0), cap) << wal << " " << ms << " " << cap;
            }
}

// A step that took long enough already is not paced any further.
TEST(WalRatePause, NoPauseWhenTheStepWasSlowEnough) {
    EXPECT_EQ(pause_for_wal_rate_ms(1e6, 62.5, 16e6), 0.0);
    EXPECT_EQ(pause_for_wal_rate_ms(1e6, 500.0, 16e6), 0.0);
}

// No limit (0, negative, not finite), no WAL or a nonsense WAL figure: no pause. A nonsense elapsed
// time counts as none (the WAL still has its limit).
TEST(WalRatePause, NoLimitOrNoWalMeansNoPause) {
    for (double cap : {0.0, -1.0, kNaN, kInf})
        EXPECT_EQ(pause_for_wal_rate_ms(1e6, 1.0, cap), 0.0) << cap;
    for (double wal : {0.0, -5.0, kNaN, kInf})
        EXPECT_EQ(pause_for_wal_rate_ms(wal, 1.0, 16e6), 0.0) << wal;
    for (double ms : {-1.0, kNaN, -kInf})
        EXPECT_DOUBLE_EQ(pause_for_wal_rate_ms(1e6, ms, 1e6), 1000.0) << ms;
    EXPECT_EQ(pause_for_wal_rate_ms(1e6, kInf, 1e6), 0.0);
}

// Capped at a minute, like the sleep ratio's pause.
TEST(WalRatePause, IsCappedAtOneMinute) {
    EXPECT_DOUBLE_EQ(pause_for_wal_rate_ms(1e12, 1.0, 1.0), 60000.0);
}

// ---------------------------------------------------------------------------------------------------
// PauseDebt

// Half a millisecond after each 1 ms batch (ratio 0.5): a 1 ms sleep every other batch.
TEST(PauseDebt, FractionsAddUpToWholeMilliseconds) {
    sc::PauseDebt d;
    EXPECT_EQ(d.owe(0.5), 0);
    EXPECT_EQ(d.owe(0.5), 1);
    d.paid(1.0);
    EXPECT_EQ(d.owe(0.5), 0);
    EXPECT_EQ(d.owe(0.5), 1);
}

// Over many steps the time slept is what was owed, whatever the fractions, within one millisecond.
TEST(PauseDebt, AveragesWhatWasAsked) {
    for (double pause : {0.1, 0.3, 0.5, 0.7, 1.5, 2.25, 10.0}) {
        sc::PauseDebt d;
        double asked = 0, slept = 0;
        for (int i = 0; i < 1000; i++) {
            asked += pause;
            long now = d.owe(pause);
            d.paid(static_cast<double>(now));
            slept += static_cast<double>(now);
        }
        EXPECT_LE(slept, asked + 1e-9) << pause;        // never more than asked
        EXPECT_LT(asked - slept, 1.0 + 1e-9) << pause;  // less only by what is still owed
    }
}

// Sleeping longer than asked (a busy machine) is a credit against the next pauses.
TEST(PauseDebt, OversleepingIsACredit) {
    sc::PauseDebt d;
    EXPECT_EQ(d.owe(2.0), 2);
    d.paid(3.5);  // 1.5 ms too long
    EXPECT_EQ(d.owe(1.0), 0);
    EXPECT_EQ(d.owe(1.0), 0);
    EXPECT_EQ(d.owe(1.0), 1);  // 1.5 ms owed again
}

// The credit is bounded (a long stall does not cancel a second of later pauses), so is the debt
// (60 s, like one pause), and nonsense is ignored.
TEST(PauseDebt, BoundedAndNonsenseIgnored) {
    sc::PauseDebt d;
    d.paid(1e9);
    EXPECT_DOUBLE_EQ(d.owed_ms, -1000.0);
    sc::PauseDebt e;
    EXPECT_EQ(e.owe(1e12), 60000);
    for (double bad : {-1.0, kNaN, kInf, -kInf}) {
        sc::PauseDebt f;
        EXPECT_EQ(f.owe(bad), 0) << bad;
        f.paid(bad);
        EXPECT_DOUBLE_EQ(f.owed_ms, 0.0) << bad;
    }
}

// ---------------------------------------------------------------------------------------------------
// WalPerBlock and blocks_within_wal(): a batch's WAL within what is left below the checkpoint limit

// The estimate follows the heaviest recent batch (full-page images), forgetting it slowly.
TEST(WalPerBlock, FollowsTheHeaviestBatchAndDecays) {
    sc::WalPerBlock w;
    EXPECT_LT(w.bytes, 0.0);
    w.observe(100e3, 10);  // 10 kB a block: full-page images
    EXPECT_DOUBLE_EQ(w.bytes, 10e3);
    w.observe(10e3, 10);  // 1 kB a block: kept high, decaying by a tenth
    EXPECT_DOUBLE_EQ(w.bytes, 9e3);
    w.observe(200e3, 10);
    EXPECT_DOUBLE_EQ(w.bytes, 20e3);
    for (double bad : {-1.0, kNaN, kInf}) {
        w.observe(bad, 10);
        EXPECT_DOUBLE_EQ(w.bytes, 20e3) << bad;
    }
    w.observe(1e3, 0);
    EXPECT_DOUBLE_EQ(w.bytes, 20e3);
}

// A batch never plans more WAL than is left, but always at least one block.
TEST(BlocksWithinWal, CapsTheBatchToTheWalLeft) {
    sc::WalPerBlock w;
    w.observe(80e3, 10);  // 8 kB a block
    EXPECT_EQ(sc::blocks_within_wal(500, 1.6e6, w), 200);
    EXPECT_EQ(sc::blocks_within_wal(100, 1.6e6, w), 100);  // fits: unchanged
    EXPECT_EQ(sc::blocks_within_wal(500, 1000.0, w), 1);
    EXPECT_EQ(sc::blocks_within_wal(500, 0.0, w), 1);
    for (int blocks : {1, 7, 64, 8192})
        for (double left : {8e3, 1e5, 3.3e6, 64e6})
            EXPECT_LE(sc::blocks_within_wal(blocks, left, w) * 8e3, std::max(left, 8e3)) << blocks << " " << left;
}

// No estimate yet, or no limit: the size the sizer chose.
TEST(BlocksWithinWal, NoEstimateOrNoLimitLeavesTheSize) {
    sc::WalPerBlock none;
    EXPECT_EQ(sc::blocks_within_wal(300, 1e3, none), 300);
    sc::WalPerBlock w;
    w.observe(80e3, 10);
    for (double left : {-1.0, kNaN, kInf})
        EXPECT_EQ(sc::blocks_within_wal(300, left, w), 300) << left;
}

// ---------------------------------------------------------------------------------------------------
// plan_vacuum(): the VACUUM over what was filled, within the checkpoint budget

sc::VacuumInputs vacuum_inputs(long long filled, double left, double budget) {
    sc::VacuumInputs in;
    in.filled = filled;
    in.every = 2000;
    in.wal_left = left;
    in.wal_budget = budget;
    return in;
}

// Without a WAL limit: every `every` filled blocks, always fitting.
TEST(PlanVacuum, WithoutALimitEveryTenth) {
    sc::WalPerBlock none;
    EXPECT_FALSE(sc::plan_vacuum(vacuum_inputs(1999, -1.0, 0.0), none, none).due);
    sc::VacuumPlan p = sc::plan_vacuum(vacuum_inputs(2000, -1.0, 0.0), none, none);
    EXPECT_TRUE(p.due);
    EXPECT_TRUE(p.fits);
    EXPECT_FALSE(sc::plan_vacuum(vacuum_inputs(0, -1.0, 0.0), none, none).due);
}

// A small budget makes it due sooner: what half the budget holds at the measured WAL per block, but
// not more often than min_blocks.
TEST(PlanVacuum, SmallBudgetMakesItDueSooner) {
    sc::WalPerBlock w;
    w.observe(40e3 * 100, 100);  // 40 kB per filled block (full-page images with checksums)
    // half of 8 MB holds 100 blocks
    EXPECT_FALSE(sc::plan_vacuum(vacuum_inputs(99, 8e6, 8e6), w, w).due);
    EXPECT_TRUE(sc::plan_vacuum(vacuum_inputs(100, 8e6, 8e6), w, w).due);
    // half of 1 MB would hold 12: min_blocks (64) instead
    EXPECT_FALSE(sc::plan_vacuum(vacuum_inputs(63, 1e6, 1e6), w, w).due);
    EXPECT_TRUE(sc::plan_vacuum(vacuum_inputs(64, 1e6, 1e6), w, w).due);
    // a large budget: the tenth
    EXPECT_FALSE(sc::plan_vacuum(vacuum_inputs(1999, 1e12, 1e12), w, w).due);
    EXPECT_TRUE(sc::plan_vacuum(vacuum_inputs(2000, 1e12, 1e12), w, w).due);
}

// When it comes due is judged at the worse of the two estimates: a cheap VACUUM in the same cycle
// (0.7 kB per block on 15) does not let the filled blocks grow to what a VACUUM after a checkpoint
// could not carry (PostgreSQL 18 with checksums: 42 kB per block).
TEST(PlanVacuum, DueAtTheWorseOfTheTwoEstimates) {
    sc::WalPerBlock cheap;
    cheap.observe(0.7e3 * 1000, 1000);
    sc::WalPerBlock dear;
    dear.observe(42e3 * 1000, 1000);
    // half of 8 MB at 42 kB holds 95 blocks, at 0.7 kB 5714
    EXPECT_FALSE(sc::plan_vacuum(vacuum_inputs(94, 8e6, 8e6), cheap, dear).due);
    sc::VacuumPlan p = sc::plan_vacuum(vacuum_inputs(95, 8e6, 8e6), cheap, dear);
    EXPECT_TRUE(p.due);
    EXPECT_DOUBLE_EQ(p.expected_wal, 95 * 0.7e3);  // the same cycle: its own estimate
    EXPECT_TRUE(p.fits);
}

// It runs when its expected WAL fits in what is left, or when nearly all is left (right after a
// checkpoint: waiting longer would not help).
TEST(PlanVacuum, RunsWhenItFitsOrRightAfterACheckpoint) {
    sc::WalPerBlock w;
    w.observe(40e3 * 100, 100);
    sc::VacuumPlan p = sc::plan_vacuum(vacuum_inputs(100, 3e6, 8e6), w, w);
    EXPECT_TRUE(p.due);
    EXPECT_DOUBLE_EQ(p.expected_wal, 4e6);
    EXPECT_FALSE(p.fits);
    EXPECT_TRUE(sc::plan_vacuum(vacuum_inputs(100, 4e6, 8e6), w, w).fits);
    // 64 blocks due under a 1 MB budget never fit: they run right after a checkpoint
    EXPECT_FALSE(sc::plan_vacuum(vacuum_inputs(64, 0.8e6, 1e6), w, w).fits);
    EXPECT_TRUE(sc::plan_vacuum(vacuum_inputs(64, 0.95e6, 1e6), w, w).fits);
}

// Before a VACUUM of its case was measured: two pages per block; after a checkpoint what the batches
// wrote per block if more (their pages are imaged again), up to kVacuumGuessPages pages. Once measured,
// the case's own figure, larger or smaller.
TEST(PlanVacuum, EstimatesBeforeAndAfterAMeasurement) {
    sc::WalPerBlock none;
    EXPECT_DOUBLE_EQ(sc::plan_vacuum(vacuum_inputs(2000, 1e12, 1e12), none, none).expected_wal, 2000 * 2 * 8192.0);
    sc::VacuumInputs in = vacuum_inputs(2000, 1e12, 1e12);
    in.batch_wal_per_block = 30e3;  // full-page images of the heap and index pages a batch touched
    EXPECT_DOUBLE_EQ(sc::plan_vacuum(in, none, none).expected_wal, 2000 * 2 * 8192.0);
    in.after_checkpoint = true;
    EXPECT_DOUBLE_EQ(sc::plan_vacuum(in, none, none).expected_wal, 2000 * 30e3);
    in.batch_wal_per_block = 390e3;  // right after a checkpoint on 15: capped
    EXPECT_DOUBLE_EQ(sc::plan_vacuum(in, none, none).expected_wal, 2000 * sc::kVacuumGuessPages * 8192.0);
    in.batch_wal_per_block = 1e3;
    EXPECT_DOUBLE_EQ(sc::plan_vacuum(in, none, none).expected_wal, 2000 * 2 * 8192.0);
    sc::WalPerBlock dear;
    dear.observe(40e3 * 100, 100);
    sc::WalPerBlock cheap;
    cheap.observe(1.5e6, 2000);
    EXPECT_DOUBLE_EQ(sc::plan_vacuum(in, none, dear).expected_wal, 2000 * 40e3);
    EXPECT_DOUBLE_EQ(sc::plan_vacuum(in, dear, cheap).expected_wal, 1.5e6);
    in.after_checkpoint = false;
    EXPECT_DOUBLE_EQ(sc::plan_vacuum(in, dear, cheap).expected_wal, 2000 * 40e3);
}

// Under the checkpoint pace a VACUUM that does not fit what the line allows now still runs when it
// fits in half of what is left before the server would force a checkpoint: the batches after it wait
// on the line for a moment, the job does not stop until the next checkpoint (issue 16: a VACUUM
// estimated from the batches' WAL held a job for 25 s a cycle).
TEST(PlanVacuum, UnderThePaceRunsWithinHalfTheRoom) {
    sc::WalPerBlock w;
    w.observe(1.5e3 * 4000, 4000);  // PostgreSQL 15, after a checkpoint: 1.5 kB per filled block
    sc::VacuumInputs in = vacuum_inputs(4000, 1e6, 540e6);
    in.every = 4000;
    sc::VacuumPlan p = sc::plan_vacuum(in, w, w);
    EXPECT_TRUE(p.due);
    EXPECT_DOUBLE_EQ(p.expected_wal, 6e6);
    EXPECT_FALSE(p.fits);  // 6 MB > the 1 MB the line allows, no room given (share mode)
    in.wal_room = 12e6;
    EXPECT_TRUE(sc::plan_vacuum(in, w, w).fits);
    in.wal_room = 11.9e6;
    EXPECT_FALSE(sc::plan_vacuum(in, w, w).fits);
    for (double bad : {kNaN, kInf, -1.0}) {
        in.wal_room = bad;
        EXPECT_FALSE(sc::plan_vacuum(in, w, w).fits) << bad;
    }
}

// Under the pace it comes due before its expected WAL could outgrow the room (kVacuumRoomDue of it, at
// the worse estimate), not more often than min_blocks, so that it fits when due: no wait for the next
// checkpoint (issue 16: a pass estimated at 283 MB as a checkpoint began held (5) for 20 s).
TEST(PlanVacuum, UnderThePaceDueBeforeItOutgrowsTheRoom) {
    sc::WalPerBlock cheap;
    cheap.observe(0.7e3 * 1000, 1000);
    sc::WalPerBlock none;
    sc::VacuumInputs in = vacuum_inputs(2929, 0.0, 540e6);
    in.every = 4000;
    in.batch_wal_per_block = 82e3;  // capped at 6 pages: 49152 bytes
    in.wal_room = 360e6;
    // 0.4 x 360 MB holds 2929.7 blocks at 49152 bytes
    EXPECT_FALSE(sc::plan_vacuum(in, cheap, none).due);
    in.filled = 2930;
    EXPECT_TRUE(sc::plan_vacuum(in, cheap, none).due);
    // a checkpoint begins: the same blocks now fit half the room at the estimate after a checkpoint
    in.after_checkpoint = true;
    sc::VacuumPlan p = sc::plan_vacuum(in, cheap, none);
    EXPECT_TRUE(p.due);
    EXPECT_TRUE(p.fits);
    // not more often than min_blocks
    in.wal_room = 1e6;
    in.filled = 63;
    EXPECT_FALSE(sc::plan_vacuum(in, cheap, none).due);
    in.filled = 64;
    EXPECT_TRUE(sc::plan_vacuum(in, cheap, none).due);
    // without a pace (no room): only `every`
    in.wal_room = -1.0;
    in.wal_left = 1e12;
    in.wal_budget = 1e12;
    in.filled = 3999;
    EXPECT_FALSE(sc::plan_vacuum(in, cheap, none).due);
}

// A cheap VACUUM in the same checkpoint cycle as its batches (their pages already imaged) says
// nothing of the one after a checkpoint: the worker keeps the two measurements apart, and before one
// after a checkpoint was measured, the batches' WAL per block stands for it (PostgreSQL 18 with
// checksums: 2 kB per block, then 42 kB).
TEST(PlanVacuum, ACheapMeasurementIsOfItsCaseOnly) {
    sc::WalPerBlock cheap;
    cheap.observe(2.1e6, 1024);
    sc::WalPerBlock none;
    sc::VacuumInputs in = vacuum_inputs(1039, 10e6, 16e6);
    in.batch_wal_per_block = 42e3;
    sc::VacuumPlan p = sc::plan_vacuum(in, cheap, none);
    EXPECT_NEAR(p.expected_wal, 1039 * 2.1e6 / 1024, 1e-3);
    in.after_checkpoint = true;
    p = sc::plan_vacuum(in, cheap, none);
    EXPECT_DOUBLE_EQ(p.expected_wal, 1039 * 42e3);
    EXPECT_FALSE(p.fits);
    // due after what half the budget holds at 42 kB per block (190 blocks), not after 2000
    in.filled = 189;
    EXPECT_FALSE(sc::plan_vacuum(in, cheap, none).due);
    in.filled = 190;
    EXPECT_TRUE(sc::plan_vacuum(in, cheap, none).due);
    in.batch_wal_per_block = -1.0;
    EXPECT_DOUBLE_EQ(sc::plan_vacuum(in, cheap, none).expected_wal, 190 * 2 * 8192.0);
}

}  // namespace
