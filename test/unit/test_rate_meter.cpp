// Unit tests of src/core/rate_meter: the smoothed rate (exponentially weighted, with a half-life) and ETA.
#include "core/rate_meter.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>

namespace {

using sc::RateMeter;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A meter whose rate is `rate` units/s after its first sample.
RateMeter meter_at(double rate, double half_life_s = 10.0) {
    RateMeter m(half_life_s);
    m.add(rate * 2.0, 2.0);
    return m;
}

// ---------------------------------------------------------------------------------------------------
// rate()

TEST(RateMeterRate, NothingBeforeTheFirstSample) {
    RateMeter m;
    EXPECT_FALSE(m.rate().has_value());
}

TEST(RateMeterRate, FirstSampleSetsTheRate) {
    RateMeter m(10.0);
    m.add(50.0, 2.0);
    ASSERT_TRUE(m.rate().has_value());
    EXPECT_DOUBLE_EQ(*m.rate(), 25.0);
}

// However long the first interval, it is the whole history: no smoothing towards a made-up 0.
TEST(RateMeterRate, FirstSampleIsTakenAsIsWhateverItsLength) {
    for (double seconds : {0.001, 1.0, 10.0, 1000.0}) {
        RateMeter m(10.0);
        m.add(7.0 * seconds, seconds);
        ASSERT_TRUE(m.rate().has_value()) << seconds;
        EXPECT_DOUBLE_EQ(*m.rate(), 7.0) << seconds;
    }
}

// Half-life semantics: after an interval of exactly one half-life, the old rate weighs 0.5.
TEST(RateMeterRate, AfterOneHalfLifeTheOldRateWeighsHalf) {
    for (double half_life : {1.0, 10.0, 37.5}) {
        RateMeter m = meter_at(10.0, half_life);
        m.add(20.0 * half_life, half_life);  // 20 units/s over one half-life
        ASSERT_TRUE(m.rate().has_value());
        EXPECT_NEAR(*m.rate(), 15.0, 1e-9) << half_life;
    }
}

TEST(RateMeterRate, AfterTwoHalfLivesTheOldRateWeighsAQuarter) {
    RateMeter m = meter_at(10.0, 10.0);
    m.add(20.0 * 20.0, 20.0);
    EXPECT_NEAR(*m.rate(), 0.25 * 10.0 + 0.75 * 20.0, 1e-9);
}

TEST(RateMeterRate, DefaultHalfLifeIsTenSeconds) {
    RateMeter m;
    m.add(20.0, 2.0);  // 10 units/s
    m.add(200.0, 10.0);  // 20 units/s over 10 s
    EXPECT_NEAR(*m.rate(), 15.0, 1e-9);
}

TEST(RateMeterRate, NonsenseHalfLifeBecomesTheDefault) {
    for (double half_life : {0.0, -1.0, -kInf, kNaN}) {
        RateMeter m(half_life);
        m.add(20.0, 2.0);
        m.add(200.0, 10.0);
        ASSERT_TRUE(m.rate().has_value()) << half_life;
        EXPECT_NEAR(*m.rate(), 15.0, 1e-9) << half_life;
    }
}

// The longer the interval of the new sample, the further the rate moves towards it, and it never
// overshoots.
TEST(RateMeterRate, LongerIntervalsMoveTheRateFurther) {
    double prev = 10.0;
    for (double seconds : {0.1, 1.0, 5.0, 10.0, 30.0, 100.0}) {
        RateMeter m = meter_at(10.0, 10.0);
        m.add(20.0 * seconds, seconds);
        const double r = *m.rate();
        EXPECT_GT(r, prev) << seconds;
        EXPECT_LT(r, 20.0) << seconds;
        prev = r;
    }
    // Falling rates too.
    prev = 10.0;
    for (double seconds : {0.1, 1.0, 5.0, 10.0, 30.0}) {
        RateMeter m = meter_at(10.0, 10.0);
        m.add(2.0 * seconds, seconds);
        const double r = *m.rate();
        EXPECT_LT(r, prev) << seconds;
        EXPECT_GT(r, 2.0) << seconds;
        prev = r;
    }
}

// The weight depends on time, not on how many samples: one half-life in two halves gives the same
// rate as one half-life in one sample.
TEST(RateMeterRate, SplittingAnIntervalDoesNotChangeTheResult) {
    RateMeter whole = meter_at(10.0, 10.0);
    whole.add(20.0 * 10.0, 10.0);
    RateMeter halves = meter_at(10.0, 10.0);
    halves.add(20.0 * 5.0, 5.0);
    halves.add(20.0 * 5.0, 5.0);
    RateMeter tenths = meter_at(10.0, 10.0);
    for (int i = 0; i < 10; ++i)
        tenths.add(20.0, 1.0);
    EXPECT_NEAR(*halves.rate(), *whole.rate(), 1e-9);
    EXPECT_NEAR(*tenths.rate(), *whole.rate(), 1e-9);
    EXPECT_NEAR(*whole.rate(), 15.0, 1e-9);
}

TEST(RateMeterRate, ConvergesToASteadyRate) {
    RateMeter m = meter_at(100.0, 10.0);
    for (int i = 0; i < 100; ++i)
        m.add(5.0, 1.0);  // 5 units/s for 100 s = 10 half-lives
    EXPECT_NEAR(*m.rate(), 5.0, 95.0 / 1000.0);
}

// Zero units over a real interval is a real measurement (a stall), not a bad input.
TEST(RateMeterRate, ZeroUnitsIsAStall) {
    RateMeter m = meter_at(10.0, 10.0);
    m.add(0.0, 10.0);
    EXPECT_NEAR(*m.rate(), 5.0, 1e-9);

    RateMeter first(10.0);
    first.add(0.0, 3.0);
    ASSERT_TRUE(first.rate().has_value());
    EXPECT_EQ(*first.rate(), 0.0);
}

TEST(RateMeterRate, BadInputsAreIgnored) {
    struct Bad {
        double units;
        double seconds;
    };
    const Bad bad[] = {
        {10.0, 0.0},  {10.0, -1.0}, {10.0, kNaN},  {10.0, kInf}, {10.0, -kInf},
        {-1.0, 1.0},  {kNaN, 1.0},  {kInf, 1.0},   {-kInf, 1.0}, {-5.0, -5.0},
    };
    RateMeter fresh(10.0);
    for (const Bad &b : bad) {
        fresh.add(b.units, b.seconds);
        EXPECT_FALSE(fresh.rate().has_value()) << b.units << " / " << b.seconds;
    }
    // Ignored bad inputs did not count as a first sample: the next good one sets the rate.
    fresh.add(30.0, 3.0);
    EXPECT_DOUBLE_EQ(*fresh.rate(), 10.0);

    RateMeter m = meter_at(10.0, 10.0);
    for (const Bad &b : bad) {
        m.add(b.units, b.seconds);
        ASSERT_TRUE(m.rate().has_value());
        EXPECT_DOUBLE_EQ(*m.rate(), 10.0) << b.units << " / " << b.seconds;
    }
}

// ---------------------------------------------------------------------------------------------------
// eta_seconds()

TEST(RateMeterEta, NothingBeforeTheFirstSample) {
    RateMeter m;
    EXPECT_FALSE(m.eta_seconds(100.0).has_value());
    EXPECT_FALSE(m.eta_seconds(0.0).has_value());
}

TEST(RateMeterEta, IsRemainingOverRate) {
    RateMeter m = meter_at(25.0);
    ASSERT_TRUE(m.eta_seconds(100.0).has_value());
    EXPECT_DOUBLE_EQ(*m.eta_seconds(100.0), 4.0);
    EXPECT_DOUBLE_EQ(*m.eta_seconds(1.0), 0.04);
    EXPECT_DOUBLE_EQ(*m.eta_seconds(1e9), 4e7);
}

TEST(RateMeterEta, FollowsTheSmoothedRate) {
    RateMeter m = meter_at(10.0, 10.0);
    m.add(200.0, 10.0);  // rate 15
    EXPECT_NEAR(*m.eta_seconds(150.0), 10.0, 1e-9);
}

TEST(RateMeterEta, NothingLeftTakesNoTime) {
    RateMeter m = meter_at(25.0);
    EXPECT_EQ(*m.eta_seconds(0.0), 0.0);
    EXPECT_EQ(*m.eta_seconds(-5.0), 0.0);
}

TEST(RateMeterEta, NoEtaAtZeroRate) {
    RateMeter m(10.0);
    m.add(0.0, 5.0);
    ASSERT_TRUE(m.rate().has_value());
    EXPECT_FALSE(m.eta_seconds(100.0).has_value());
    EXPECT_FALSE(m.eta_seconds(0.0).has_value());
    // Once work is done again, the ETA comes back.
    m.add(100.0, 10.0);  // 10 units/s over one half-life: rate 5
    ASSERT_TRUE(m.eta_seconds(100.0).has_value());
    EXPECT_NEAR(*m.eta_seconds(100.0), 20.0, 1e-9);
}

}  // namespace
