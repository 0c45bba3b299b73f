// Unit tests of src/core/throttle: the throttle controller (go, wait or pause before each batch, with
// per-signal hysteresis and a sustained-critical pause), signal names and units, and value formatting.
#include "core/throttle.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using sc::format_signal_value;
using sc::signal_count;
using sc::signal_name;
using sc::signal_unit;
using sc::SignalKind;
using sc::SignalReading;
using sc::ThrottleController;
using sc::ThrottleDecision;
using sc::Unit;

using Kind = ThrottleDecision::Kind;

// The worker keeps the controller in memory that PostgreSQL's longjmps skip over: no destructor may
// ever need to run.
static_assert(std::is_trivially_destructible_v<ThrottleController>,
              "ThrottleController lives across PostgreSQL longjmps");

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kB = 1024.0;
constexpr double MB = 1024.0 * 1024.0;
constexpr double GB = 1024.0 * 1024.0 * 1024.0;
constexpr double TB = 1024.0 * 1024.0 * 1024.0 * 1024.0;

// An enabled reading.
SignalReading reading(SignalKind kind, double value, double limit, double resume_below, double critical = 0,
                      const char *label = "") {
    SignalReading r;
    r.kind = kind;
    r.enabled = true;
    r.value = value;
    r.limit = limit;
    r.resume_below = resume_below;
    r.critical = critical;
    r.label = label;
    return r;
}

// The replica lag of standby1: wait above 64 MB, go on at 32 MB, critical above 256 MB.
SignalReading lag(double value, double critical = 256 * MB) {
    return reading(SignalKind::replica_lag_bytes, value, 64 * MB, 32 * MB, critical, "standby1");
}

// Active backends: wait above 10, go on at 5, never critical.
SignalReading backends(double value) { return reading(SignalKind::active_backends, value, 10, 5); }

SignalReading disabled(SignalKind kind, double value) {
    SignalReading r = reading(kind, value, 1, 0, 2);
    r.enabled = false;
    return r;
}

ThrottleDecision decide(ThrottleController &c, std::vector<SignalReading> readings, double now_s = 0,
                        double critical_for_s = 60) {
    return c.decide(readings.data(), static_cast<int>(readings.size()), now_s, critical_for_s);
}

bool ends_with(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<SignalKind> all_kinds() {
    std::vector<SignalKind> kinds;
    for (int i = 0; i < signal_count; ++i)
        kinds.push_back(static_cast<SignalKind>(i));
    return kinds;
}

// ---------------------------------------------------------------------------------------------------
// Signal names and units

TEST(ThrottleSignalName, NamesEveryKind) {
    EXPECT_STREQ(signal_name(SignalKind::checkpoint_wal), "checkpoint_wal");
    EXPECT_STREQ(signal_name(SignalKind::checkpoint_running), "checkpoint_running");
    EXPECT_STREQ(signal_name(SignalKind::replica_lag_bytes), "replica_lag_bytes");
    // These two follow their settings, safe_column.max_replica_lag_time and safe_column.max_slot_lag.
    EXPECT_STREQ(signal_name(SignalKind::replica_lag_seconds), "replica_lag_time");
    EXPECT_STREQ(signal_name(SignalKind::slot_lag_bytes), "slot_lag");
    EXPECT_STREQ(signal_name(SignalKind::active_backends), "active_backends");
    EXPECT_STREQ(signal_name(SignalKind::lock_waiters), "lock_waiters");
    EXPECT_STREQ(signal_name(SignalKind::throttle_query), "throttle_query");
}

TEST(ThrottleSignalName, NamesAreDistinctAndNonEmpty) {
    // They are the keys of the job's throttle_stats.
    std::set<std::string> names;
    for (SignalKind kind : all_kinds()) {
        ASSERT_NE(signal_name(kind), nullptr);
        EXPECT_FALSE(std::string(signal_name(kind)).empty());
        EXPECT_NE(std::string(signal_name(kind)), "unknown");
        names.insert(signal_name(kind));
    }
    EXPECT_EQ(names.size(), static_cast<size_t>(signal_count));
}

TEST(ThrottleSignalName, OutOfRangeKindsAreUnknown) {
    for (int i : {-1, -1000, signal_count, signal_count + 1, 1000})
        EXPECT_STREQ(signal_name(static_cast<SignalKind>(i)), "unknown") << i;
    EXPECT_STREQ(signal_name(SignalKind::count), "unknown");
}

TEST(ThrottleSignalUnit, UnitOfEveryKind) {
    EXPECT_EQ(signal_unit(SignalKind::checkpoint_wal), Unit::share);
    EXPECT_EQ(signal_unit(SignalKind::checkpoint_running), Unit::flag);
    EXPECT_EQ(signal_unit(SignalKind::replica_lag_bytes), Unit::bytes);
    EXPECT_EQ(signal_unit(SignalKind::replica_lag_seconds), Unit::seconds);
    EXPECT_EQ(signal_unit(SignalKind::slot_lag_bytes), Unit::bytes);
    EXPECT_EQ(signal_unit(SignalKind::active_backends), Unit::count);
    EXPECT_EQ(signal_unit(SignalKind::lock_waiters), Unit::count);
    EXPECT_EQ(signal_unit(SignalKind::throttle_query), Unit::flag);
}

TEST(ThrottleSignalUnit, OutOfRangeKindsCount) {
    for (int i : {-1, signal_count, 1000})
        EXPECT_EQ(signal_unit(static_cast<SignalKind>(i)), Unit::count) << i;
}

// ---------------------------------------------------------------------------------------------------
// format_signal_value()

TEST(ThrottleFormat, BytesBelowOneKilobyte) {
    EXPECT_EQ(format_signal_value(0, Unit::bytes), "0 B");
    EXPECT_EQ(format_signal_value(1, Unit::bytes), "1 B");
    EXPECT_EQ(format_signal_value(1023, Unit::bytes), "1023 B");
}

TEST(ThrottleFormat, BytesStepByPowersOf1024) {
    EXPECT_EQ(format_signal_value(kB, Unit::bytes), "1 kB");
    EXPECT_EQ(format_signal_value(10 * kB, Unit::bytes), "10 kB");
    EXPECT_EQ(format_signal_value(1023 * kB, Unit::bytes), "1023 kB");
    EXPECT_EQ(format_signal_value(MB, Unit::bytes), "1 MB");
    EXPECT_EQ(format_signal_value(96 * MB, Unit::bytes), "96 MB");
    EXPECT_EQ(format_signal_value(GB, Unit::bytes), "1 GB");
    EXPECT_EQ(format_signal_value(3 * GB, Unit::bytes), "3 GB");
    EXPECT_EQ(format_signal_value(TB, Unit::bytes), "1 TB");
    EXPECT_EQ(format_signal_value(7 * TB, Unit::bytes), "7 TB");
}

TEST(ThrottleFormat, BytesAboveATerabyteStayInTerabytes) {
    EXPECT_EQ(format_signal_value(1024 * TB, Unit::bytes), "1024 TB");
    EXPECT_EQ(format_signal_value(5000 * TB, Unit::bytes), "5000 TB");
}

TEST(ThrottleFormat, BytesRoundToWholeUnits) {
    EXPECT_EQ(format_signal_value(1.4 * kB, Unit::bytes), "1 kB");
    EXPECT_EQ(format_signal_value(1.6 * kB, Unit::bytes), "2 kB");
    EXPECT_EQ(format_signal_value(96.3 * MB, Unit::bytes), "96 MB");
    EXPECT_EQ(format_signal_value(10.7 * GB, Unit::bytes), "11 GB");
    EXPECT_EQ(format_signal_value(12.4, Unit::bytes), "12 B");
}

// A value just below a unit boundary rounds up to 1024 of the smaller unit instead of 1 of the next.
TEST(ThrottleFormat, BytesJustBelowAUnitBoundaryShowTheNextUnit) {
    EXPECT_EQ(format_signal_value(1023.6, Unit::bytes), "1 kB");
    EXPECT_EQ(format_signal_value(MB - 1, Unit::bytes), "1 MB");
    EXPECT_EQ(format_signal_value(1023.7 * MB, Unit::bytes), "1 GB");
    EXPECT_EQ(format_signal_value(1023.9 * GB, Unit::bytes), "1 TB");
}

TEST(ThrottleFormat, NegativeBytesScaleByMagnitude) {
    EXPECT_EQ(format_signal_value(-2 * kB, Unit::bytes), "-2 kB");
    EXPECT_EQ(format_signal_value(-5 * MB, Unit::bytes), "-5 MB");
    EXPECT_EQ(format_signal_value(-10, Unit::bytes), "-10 B");
}

TEST(ThrottleFormat, SecondsWithOneDecimal) {
    EXPECT_EQ(format_signal_value(12.5, Unit::seconds), "12.5 s");
    EXPECT_EQ(format_signal_value(0, Unit::seconds), "0.0 s");
    EXPECT_EQ(format_signal_value(10, Unit::seconds), "10.0 s");
    EXPECT_EQ(format_signal_value(12.34, Unit::seconds), "12.3 s");
    EXPECT_EQ(format_signal_value(12.36, Unit::seconds), "12.4 s");
    EXPECT_EQ(format_signal_value(3600, Unit::seconds), "3600.0 s");
}

TEST(ThrottleFormat, SharesWithTwoDecimals) {
    EXPECT_EQ(format_signal_value(0.82, Unit::share), "0.82");
    EXPECT_EQ(format_signal_value(0.5, Unit::share), "0.50");
    EXPECT_EQ(format_signal_value(0, Unit::share), "0.00");
    EXPECT_EQ(format_signal_value(1, Unit::share), "1.00");
    EXPECT_EQ(format_signal_value(0.8249, Unit::share), "0.82");
    EXPECT_EQ(format_signal_value(0.8251, Unit::share), "0.83");
    EXPECT_EQ(format_signal_value(1.75, Unit::share), "1.75");
}

TEST(ThrottleFormat, CountsAsIntegers) {
    EXPECT_EQ(format_signal_value(0, Unit::count), "0");
    EXPECT_EQ(format_signal_value(3, Unit::count), "3");
    EXPECT_EQ(format_signal_value(3.4, Unit::count), "3");
    EXPECT_EQ(format_signal_value(3.6, Unit::count), "4");
    EXPECT_EQ(format_signal_value(123456789, Unit::count), "123456789");
}

TEST(ThrottleFormat, FlagsAsIntegers) {
    EXPECT_EQ(format_signal_value(0, Unit::flag), "0");
    EXPECT_EQ(format_signal_value(1, Unit::flag), "1");
}

TEST(ThrottleFormat, NonFiniteValuesFormatWithoutHanging) {
    for (Unit unit : {Unit::share, Unit::flag, Unit::bytes, Unit::seconds, Unit::count}) {
        EXPECT_NE(format_signal_value(kInf, unit).find("inf"), std::string::npos);
        EXPECT_NE(format_signal_value(-kInf, unit).find("inf"), std::string::npos);
        EXPECT_NE(format_signal_value(kNaN, unit).find("nan"), std::string::npos);
    }
}

// ---------------------------------------------------------------------------------------------------
// decide(): go and wait

TEST(ThrottleDecide, FreshControllerIsNotThrottled) {
    ThrottleController c;
    for (SignalKind kind : all_kinds())
        EXPECT_FALSE(c.throttled(kind)) << signal_name(kind);
}

TEST(ThrottleDecide, NoReadingsGo) {
    ThrottleController c;
    ThrottleDecision d = c.decide(nullptr, 0, 0, 60);
    EXPECT_EQ(d.kind, Kind::go);
    EXPECT_EQ(d.reason, "");

    SignalReading r = lag(100 * MB);
    EXPECT_EQ(c.decide(&r, 0, 0, 60).kind, Kind::go);   // n = 0: the reading is not looked at
    EXPECT_EQ(c.decide(&r, -1, 0, 60).kind, Kind::go);  // n < 0: nothing
    EXPECT_FALSE(c.throttled(SignalKind::replica_lag_bytes));
}

TEST(ThrottleDecide, AtOrBelowTheLimitGoes) {
    ThrottleController c;
    for (double v : {0.0, 10 * MB, 63 * MB, 64 * MB}) {
        ThrottleDecision d = decide(c, {lag(v)});
        EXPECT_EQ(d.kind, Kind::go) << v;
        EXPECT_EQ(d.reason, "") << v;
        EXPECT_FALSE(c.throttled(SignalKind::replica_lag_bytes)) << v;
    }
}

TEST(ThrottleDecide, AboveTheLimitWaitsWithAReason) {
    ThrottleController c;
    ThrottleDecision d = decide(c, {lag(96 * MB)});
    EXPECT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.signal, SignalKind::replica_lag_bytes);
    EXPECT_EQ(d.reason, "replica_lag_bytes standby1 96 MB > 64 MB");
    EXPECT_TRUE(c.throttled(SignalKind::replica_lag_bytes));
}

TEST(ThrottleDecide, JustAboveTheLimitWaits) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {backends(10.001)}).kind, Kind::wait);
}

TEST(ThrottleDecide, EveryKindCanWait) {
    for (SignalKind kind : all_kinds()) {
        ThrottleController c;
        ThrottleDecision d = decide(c, {reading(kind, 5, 2, 1)});
        EXPECT_EQ(d.kind, Kind::wait) << signal_name(kind);
        EXPECT_EQ(d.signal, kind) << signal_name(kind);
        EXPECT_EQ(d.reason.rfind(signal_name(kind), 0), 0u) << d.reason;  // starts with the name
        EXPECT_TRUE(c.throttled(kind)) << signal_name(kind);
        for (SignalKind other : all_kinds()) {
            if (other != kind) {
                EXPECT_FALSE(c.throttled(other)) << signal_name(kind) << " / " << signal_name(other);
            }
        }
    }
}

TEST(ThrottleReason, WithoutALabelNoExtraSpace) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {backends(12)}).reason, "active_backends 12 > 10");
}

TEST(ThrottleReason, NullLabelIsNoLabel) {
    ThrottleController c;
    SignalReading r = backends(12);
    r.label = nullptr;
    EXPECT_EQ(decide(c, {r}).reason, "active_backends 12 > 10");
}

// A label is a standby's application_name or a slot's name: text the DBA chose, never a format.
TEST(ThrottleReason, PercentSignsInALabelAreKeptVerbatim) {
    ThrottleController c;
    SignalReading r = lag(96 * MB);
    r.label = "a%1%b%%c%s";
    EXPECT_EQ(decide(c, {r}).reason, "replica_lag_bytes a%1%b%%c%s 96 MB > 64 MB");
    r.value = 300 * MB;
    ThrottleController c2;
    EXPECT_EQ(decide(c2, {r}, 0, 0).reason, "replica_lag_bytes a%1%b%%c%s 300 MB > 256 MB for 0 s (critical)");
}

TEST(ThrottleReason, EachUnitFormatsValueAndLimit) {
    {
        ThrottleController c;
        EXPECT_EQ(decide(c, {reading(SignalKind::checkpoint_wal, 0.82, 0.5, 0.25)}).reason,
                  "checkpoint_wal 0.82 > 0.50");
    }
    {
        ThrottleController c;
        EXPECT_EQ(decide(c, {reading(SignalKind::replica_lag_seconds, 12.5, 10, 5, 0, "standby2")}).reason,
                  "replica_lag_time standby2 12.5 s > 10.0 s");
    }
    {
        ThrottleController c;
        EXPECT_EQ(decide(c, {reading(SignalKind::slot_lag_bytes, 2 * GB, GB, GB / 2, 0, "slot_a")}).reason,
                  "slot_lag slot_a 2 GB > 1 GB");
    }
    {
        ThrottleController c;
        EXPECT_EQ(decide(c, {reading(SignalKind::lock_waiters, 1, 0, 0)}).reason, "lock_waiters 1 > 0");
    }
    {
        ThrottleController c;
        EXPECT_EQ(decide(c, {reading(SignalKind::active_backends, 25, 20, 10, 0, "")}).reason,
                  "active_backends 25 > 20");
    }
}

TEST(ThrottleReason, FlagsShowOnlyTheName) {
    {
        ThrottleController c;
        ThrottleDecision d = decide(c, {reading(SignalKind::checkpoint_running, 1, 0, 0)});
        EXPECT_EQ(d.kind, Kind::wait);
        EXPECT_EQ(d.signal, SignalKind::checkpoint_running);
        EXPECT_EQ(d.reason, "checkpoint_running");
    }
    {
        ThrottleController c;
        ThrottleDecision d = decide(c, {reading(SignalKind::throttle_query, 1, 0, 0)});
        EXPECT_EQ(d.kind, Kind::wait);
        EXPECT_EQ(d.signal, SignalKind::throttle_query);
        EXPECT_EQ(d.reason, "throttle_query");
    }
}

TEST(ThrottleReason, FlagsShowNameAndLabel) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {reading(SignalKind::throttle_query, 1, 0, 0, 0, "dba")}).reason, "throttle_query dba");
}

TEST(ThrottleDecide, FlagGoesWhenCleared) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {reading(SignalKind::checkpoint_running, 1, 0, 0)}).kind, Kind::wait);
    EXPECT_EQ(decide(c, {reading(SignalKind::checkpoint_running, 1, 0, 0)}).kind, Kind::wait);
    EXPECT_EQ(decide(c, {reading(SignalKind::checkpoint_running, 0, 0, 0)}).kind, Kind::go);
    EXPECT_FALSE(c.throttled(SignalKind::checkpoint_running));
}

// ---------------------------------------------------------------------------------------------------
// Hysteresis

TEST(ThrottleHysteresis, RiseWaitFallBetweenMarksStillWaitFallBelowResumeGo) {
    ThrottleController c;
    struct Step {
        double value;
        Kind kind;
        const char *reason;
    };
    const Step steps[] = {
        {10 * MB, Kind::go, ""},
        {50 * MB, Kind::go, ""},  // between the marks, but never throttled: go
        {64 * MB, Kind::go, ""},  // at the limit: not above it
        {70 * MB, Kind::wait, "replica_lag_bytes standby1 70 MB > 64 MB"},
        {96 * MB, Kind::wait, "replica_lag_bytes standby1 96 MB > 64 MB"},
        {64 * MB, Kind::wait, "replica_lag_bytes standby1 64 MB > resume at 32 MB"},
        {50 * MB, Kind::wait, "replica_lag_bytes standby1 50 MB > resume at 32 MB"},
        {33 * MB, Kind::wait, "replica_lag_bytes standby1 33 MB > resume at 32 MB"},
        {80 * MB, Kind::wait, "replica_lag_bytes standby1 80 MB > 64 MB"},  // back up: the limit again
        {40 * MB, Kind::wait, "replica_lag_bytes standby1 40 MB > resume at 32 MB"},
        {32 * MB, Kind::go, ""},  // at the resume mark: go
        {50 * MB, Kind::go, ""},  // between the marks again, released: go
        {64 * MB, Kind::go, ""},
        {65 * MB, Kind::wait, "replica_lag_bytes standby1 65 MB > 64 MB"},
        {10 * MB, Kind::go, ""},
    };
    int i = 0;
    for (const Step &s : steps) {
        ThrottleDecision d = decide(c, {lag(s.value)}, i);
        EXPECT_EQ(d.kind, s.kind) << "step " << i;
        EXPECT_EQ(d.reason, s.reason) << "step " << i;
        EXPECT_EQ(c.throttled(SignalKind::replica_lag_bytes), s.kind == Kind::wait) << "step " << i;
        if (s.kind == Kind::wait) {
            EXPECT_EQ(d.signal, SignalKind::replica_lag_bytes) << "step " << i;
        }
        ++i;
    }
}

TEST(ThrottleHysteresis, ReasonInHysteresisUsesTheSignalsUnit) {
    ThrottleController c;
    SignalReading r = reading(SignalKind::replica_lag_seconds, 12, 10, 5, 0, "s1");
    EXPECT_EQ(decide(c, {r}).reason, "replica_lag_time s1 12.0 s > 10.0 s");
    r.value = 7.5;
    EXPECT_EQ(decide(c, {r}).reason, "replica_lag_time s1 7.5 s > resume at 5.0 s");
    r.value = 5;
    EXPECT_EQ(decide(c, {r}).kind, Kind::go);
}

TEST(ThrottleHysteresis, ResumeMarkAboveTheLimitIsTheLimit) {
    ThrottleController c;
    SignalReading r = reading(SignalKind::active_backends, 12, 10, 20);
    EXPECT_EQ(decide(c, {r}).kind, Kind::wait);
    r.value = 11;  // below the (too high) resume mark, but above the limit: still waiting
    ThrottleDecision d = decide(c, {r});
    EXPECT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.reason, "active_backends 11 > 10");
    r.value = 10;
    EXPECT_EQ(decide(c, {r}).kind, Kind::go);
    EXPECT_FALSE(c.throttled(SignalKind::active_backends));
}

TEST(ThrottleHysteresis, ResumeMarkEqualToTheLimitMeansNoHysteresis) {
    ThrottleController c;
    SignalReading r = reading(SignalKind::active_backends, 11, 10, 10);
    EXPECT_EQ(decide(c, {r}).kind, Kind::wait);
    r.value = 10;
    EXPECT_EQ(decide(c, {r}).kind, Kind::go);
    r.value = 11;
    EXPECT_EQ(decide(c, {r}).kind, Kind::wait);
}

TEST(ThrottleHysteresis, ResumeMarkOfZeroWaitsUntilZero) {
    ThrottleController c;
    SignalReading r = reading(SignalKind::lock_waiters, 2, 0, 0);
    EXPECT_EQ(decide(c, {r}).kind, Kind::wait);
    r.value = 1;
    EXPECT_EQ(decide(c, {r}).reason, "lock_waiters 1 > 0");  // the limit is the resume mark
    r.value = 0;
    EXPECT_EQ(decide(c, {r}).kind, Kind::go);
}

// ---------------------------------------------------------------------------------------------------
// Disabled and non-finite readings

TEST(ThrottleDisabled, NeverThrottlesNorPauses) {
    ThrottleController c;
    for (int t = 0; t <= 1000; t += 100) {
        ThrottleDecision d = decide(c, {disabled(SignalKind::replica_lag_bytes, 1e15)}, t, 0);
        EXPECT_EQ(d.kind, Kind::go) << t;
        EXPECT_EQ(d.reason, "") << t;
        EXPECT_FALSE(c.throttled(SignalKind::replica_lag_bytes)) << t;
    }
}

TEST(ThrottleDisabled, ResetsTheHysteresis) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {lag(96 * MB)}).kind, Kind::wait);
    SignalReading off = lag(96 * MB);
    off.enabled = false;
    EXPECT_EQ(decide(c, {off}).kind, Kind::go);
    EXPECT_FALSE(c.throttled(SignalKind::replica_lag_bytes));
    // Between the marks: it would still wait had the state been kept.
    EXPECT_EQ(decide(c, {lag(50 * MB)}).kind, Kind::go);
}

TEST(ThrottleDisabled, ResetsTheCriticalTimer) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 0).kind, Kind::wait);  // critical from t = 0
    SignalReading off = lag(300 * MB);
    off.enabled = false;
    EXPECT_EQ(decide(c, {off}, 30).kind, Kind::go);
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 40).kind, Kind::wait);  // critical again from t = 40
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 90).kind, Kind::wait);  // 50 s: not yet
    ThrottleDecision d = decide(c, {lag(300 * MB)}, 100);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.reason, "replica_lag_bytes standby1 300 MB > 256 MB for 60 s (critical)");
}

TEST(ThrottleDisabled, DoesNotHideOtherSignals) {
    ThrottleController c;
    ThrottleDecision d = decide(c, {disabled(SignalKind::replica_lag_bytes, 1e12), backends(12)});
    EXPECT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.signal, SignalKind::active_backends);
}

TEST(ThrottleNonFinite, NaNAndInfinitiesNeverThrottle) {
    for (double v : {kNaN, kInf, -kInf}) {
        ThrottleController c;
        for (int t = 0; t <= 600; t += 60) {
            ThrottleDecision d = decide(c, {lag(v)}, t, 0);
            EXPECT_EQ(d.kind, Kind::go) << v << " at " << t;
            EXPECT_EQ(d.reason, "") << v;
            EXPECT_FALSE(c.throttled(SignalKind::replica_lag_bytes)) << v;
        }
    }
}

TEST(ThrottleNonFinite, ResetTheHysteresis) {
    for (double v : {kNaN, kInf, -kInf}) {
        ThrottleController c;
        EXPECT_EQ(decide(c, {lag(96 * MB)}).kind, Kind::wait) << v;
        EXPECT_EQ(decide(c, {lag(v)}).kind, Kind::go) << v;
        EXPECT_FALSE(c.throttled(SignalKind::replica_lag_bytes)) << v;
        EXPECT_EQ(decide(c, {lag(50 * MB)}).kind, Kind::go) << v;  // between the marks: state was reset
    }
}

TEST(ThrottleNonFinite, ResetTheCriticalTimer) {
    for (double v : {kNaN, kInf}) {
        ThrottleController c;
        EXPECT_EQ(decide(c, {lag(300 * MB)}, 0).kind, Kind::wait) << v;
        EXPECT_EQ(decide(c, {lag(v)}, 50).kind, Kind::go) << v;
        EXPECT_EQ(decide(c, {lag(300 * MB)}, 60).kind, Kind::wait) << v;  // restarted at 60
        EXPECT_EQ(decide(c, {lag(300 * MB)}, 119).kind, Kind::wait) << v;
        EXPECT_EQ(decide(c, {lag(300 * MB)}, 120).kind, Kind::pause) << v;
    }
}

TEST(ThrottleNonFinite, DoNotHideOtherSignals) {
    ThrottleController c;
    ThrottleDecision d = decide(c, {lag(kNaN), backends(12)});
    EXPECT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.signal, SignalKind::active_backends);
    EXPECT_EQ(d.reason, "active_backends 12 > 10");
}

// ---------------------------------------------------------------------------------------------------
// Out-of-range kinds

TEST(ThrottleOutOfRange, KindsAreIgnored) {
    ThrottleController c;
    std::vector<SignalReading> readings;
    for (int k : {-1, -1000, signal_count, signal_count + 1, 1000})
        readings.push_back(reading(static_cast<SignalKind>(k), 1e12, 1, 0, 2));
    for (int t = 0; t <= 300; t += 100) {
        ThrottleDecision d = decide(c, readings, t, 0);
        EXPECT_EQ(d.kind, Kind::go) << t;
        EXPECT_EQ(d.reason, "") << t;
    }
    for (SignalKind kind : all_kinds())
        EXPECT_FALSE(c.throttled(kind)) << signal_name(kind);
}

TEST(ThrottleOutOfRange, KindsDoNotHideValidOnes) {
    ThrottleController c;
    ThrottleDecision d = decide(c, {reading(SignalKind::count, 1e12, 1, 0, 2), backends(12),
                                    reading(static_cast<SignalKind>(-1), 1e12, 1, 0, 2)},
                                0, 0);
    EXPECT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.signal, SignalKind::active_backends);
    EXPECT_EQ(d.reason, "active_backends 12 > 10");
}

// ---------------------------------------------------------------------------------------------------
// Two signals at once

TEST(ThrottleTwoSignals, ReadingOrderDecidesTheReason) {
    {
        ThrottleController c;
        ThrottleDecision d = decide(c, {lag(96 * MB), backends(12)});
        EXPECT_EQ(d.kind, Kind::wait);
        EXPECT_EQ(d.signal, SignalKind::replica_lag_bytes);
        EXPECT_EQ(d.reason, "replica_lag_bytes standby1 96 MB > 64 MB");
        EXPECT_TRUE(c.throttled(SignalKind::replica_lag_bytes));
        EXPECT_TRUE(c.throttled(SignalKind::active_backends));
    }
    {
        ThrottleController c;
        ThrottleDecision d = decide(c, {backends(12), lag(96 * MB)});
        EXPECT_EQ(d.kind, Kind::wait);
        EXPECT_EQ(d.signal, SignalKind::active_backends);
        EXPECT_EQ(d.reason, "active_backends 12 > 10");
        EXPECT_TRUE(c.throttled(SignalKind::replica_lag_bytes));
        EXPECT_TRUE(c.throttled(SignalKind::active_backends));
    }
}

TEST(ThrottleTwoSignals, AnUnthrottledFirstSignalDoesNotDecide) {
    ThrottleController c;
    ThrottleDecision d = decide(c, {lag(10 * MB), backends(12)});
    EXPECT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.signal, SignalKind::active_backends);
    EXPECT_FALSE(c.throttled(SignalKind::replica_lag_bytes));
}

TEST(ThrottleTwoSignals, ReleasingOneKeepsTheOther) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {lag(96 * MB), backends(12)}).signal, SignalKind::replica_lag_bytes);

    // The lag drops below its resume mark: the backends, still above theirs, decide.
    ThrottleDecision d = decide(c, {lag(20 * MB), backends(12)});
    EXPECT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.signal, SignalKind::active_backends);
    EXPECT_EQ(d.reason, "active_backends 12 > 10");
    EXPECT_FALSE(c.throttled(SignalKind::replica_lag_bytes));
    EXPECT_TRUE(c.throttled(SignalKind::active_backends));

    // The backends fall between their marks: still waiting on them.
    d = decide(c, {lag(20 * MB), backends(8)});
    EXPECT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.signal, SignalKind::active_backends);
    EXPECT_EQ(d.reason, "active_backends 8 > resume at 5");

    // And below: go.
    d = decide(c, {lag(20 * MB), backends(5)});
    EXPECT_EQ(d.kind, Kind::go);
    EXPECT_FALSE(c.throttled(SignalKind::active_backends));
}

TEST(ThrottleTwoSignals, ReleasingTheSecondKeepsTheFirst) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {lag(96 * MB), backends(12)}).kind, Kind::wait);
    ThrottleDecision d = decide(c, {lag(50 * MB), backends(3)});
    EXPECT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.signal, SignalKind::replica_lag_bytes);
    EXPECT_EQ(d.reason, "replica_lag_bytes standby1 50 MB > resume at 32 MB");
    EXPECT_TRUE(c.throttled(SignalKind::replica_lag_bytes));
    EXPECT_FALSE(c.throttled(SignalKind::active_backends));
}

TEST(ThrottleTwoSignals, FirstInHysteresisStillDecidesOverASecondAboveItsLimit) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {lag(96 * MB), backends(1)}).kind, Kind::wait);
    ThrottleDecision d = decide(c, {lag(40 * MB), backends(50)});
    EXPECT_EQ(d.signal, SignalKind::replica_lag_bytes);
    EXPECT_EQ(d.reason, "replica_lag_bytes standby1 40 MB > resume at 32 MB");
    EXPECT_TRUE(c.throttled(SignalKind::active_backends));  // recorded even though it did not decide
}

TEST(ThrottleTwoSignals, StateIsPerSignal) {
    // Two readings of different kinds with the same numbers: the hysteresis of one is not the other's.
    ThrottleController c;
    EXPECT_EQ(decide(c, {reading(SignalKind::active_backends, 12, 10, 5)}).kind, Kind::wait);
    ThrottleDecision d = decide(c, {reading(SignalKind::active_backends, 3, 10, 5),
                                    reading(SignalKind::lock_waiters, 8, 10, 5)});
    EXPECT_EQ(d.kind, Kind::go);
}

// ---------------------------------------------------------------------------------------------------
// Critical: a sustained pause

TEST(ThrottleCritical, PausesOnlyAfterTheSustainedDuration) {
    ThrottleController c;
    for (double t : {0.0, 1.0, 30.0, 59.0, 59.9}) {
        ThrottleDecision d = decide(c, {lag(300 * MB)}, t, 60);
        EXPECT_EQ(d.kind, Kind::wait) << t;
        EXPECT_EQ(d.reason, "replica_lag_bytes standby1 300 MB > 64 MB") << t;
    }
    ThrottleDecision d = decide(c, {lag(300 * MB)}, 60, 60);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.signal, SignalKind::replica_lag_bytes);
    EXPECT_EQ(d.reason, "replica_lag_bytes standby1 300 MB > 256 MB for 60 s (critical)");
    EXPECT_TRUE(ends_with(d.reason, "(critical)"));
}

TEST(ThrottleCritical, TimerStartsAtTheFirstCriticalReading) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 1000, 60).kind, Kind::wait);
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 1059, 60).kind, Kind::wait);
    ThrottleDecision d = decide(c, {lag(300 * MB)}, 1075, 60);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.reason, "replica_lag_bytes standby1 300 MB > 256 MB for 75 s (critical)");
}

TEST(ThrottleCritical, AboveTheLimitButNotCriticalNeverPauses) {
    ThrottleController c;
    for (int t = 0; t <= 3600; t += 60) {
        ThrottleDecision d = decide(c, {lag(200 * MB)}, t, 60);
        EXPECT_EQ(d.kind, Kind::wait) << t;
    }
}

TEST(ThrottleCritical, AtTheCriticalLevelIsNotAbove) {
    ThrottleController c;
    for (int t = 0; t <= 600; t += 60)
        EXPECT_EQ(decide(c, {lag(256 * MB)}, t, 60).kind, Kind::wait) << t;
}

TEST(ThrottleCritical, TimerResetsWhenTheValueDropsBelowCritical) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 0, 60).kind, Kind::wait);
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 50, 60).kind, Kind::wait);
    ThrottleDecision d = decide(c, {lag(200 * MB)}, 55, 60);  // below critical, above the limit
    EXPECT_EQ(d.kind, Kind::wait);
    EXPECT_EQ(d.reason, "replica_lag_bytes standby1 200 MB > 64 MB");
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 56, 60).kind, Kind::wait);   // restarted at 56
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 100, 60).kind, Kind::wait);  // 44 s, not 100
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 115, 60).kind, Kind::wait);  // 59 s
    d = decide(c, {lag(300 * MB)}, 116, 60);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.reason, "replica_lag_bytes standby1 300 MB > 256 MB for 60 s (critical)");
}

TEST(ThrottleCritical, TimerResetsAtExactlyTheCriticalLevel) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 0, 60).kind, Kind::wait);
    EXPECT_EQ(decide(c, {lag(256 * MB)}, 30, 60).kind, Kind::wait);
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 31, 60).kind, Kind::wait);
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 90, 60).kind, Kind::wait);
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 91, 60).kind, Kind::pause);
}

TEST(ThrottleCritical, TimerResetsWhenTheValueDropsBelowResume) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 0, 60).kind, Kind::wait);
    EXPECT_EQ(decide(c, {lag(10 * MB)}, 30, 60).kind, Kind::go);
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 60, 60).kind, Kind::wait);
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 120, 60).kind, Kind::pause);
}

TEST(ThrottleCritical, NonPositiveCriticalNeverPauses) {
    for (double critical : {0.0, -1.0, -256 * MB}) {
        ThrottleController c;
        for (int t = 0; t <= 3600; t += 600) {
            ThrottleDecision d = decide(c, {lag(100 * GB, critical)}, t, 0);
            EXPECT_EQ(d.kind, Kind::wait) << critical << " at " << t;
            EXPECT_EQ(d.reason, "replica_lag_bytes standby1 100 GB > 64 MB") << critical;
        }
    }
}

TEST(ThrottleCritical, ZeroDurationPausesAtOnce) {
    ThrottleController c;
    ThrottleDecision d = decide(c, {lag(300 * MB)}, 5, 0);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.reason, "replica_lag_bytes standby1 300 MB > 256 MB for 0 s (critical)");
}

TEST(ThrottleCritical, StaysPausedWhileStillCritical) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 0, 60).kind, Kind::wait);
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 60, 60).kind, Kind::pause);
    ThrottleDecision d = decide(c, {lag(400 * MB)}, 90, 60);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.reason, "replica_lag_bytes standby1 400 MB > 256 MB for 90 s (critical)");
}

TEST(ThrottleCritical, PauseReasonUsesTheSignalsUnit) {
    {
        ThrottleController c;
        ThrottleDecision d =
            decide(c, {reading(SignalKind::replica_lag_seconds, 45.24, 10, 5, 40, "standby2")}, 0, 0);
        EXPECT_EQ(d.kind, Kind::pause);
        EXPECT_EQ(d.reason, "replica_lag_time standby2 45.2 s > 40.0 s for 0 s (critical)");
    }
    {
        ThrottleController c;
        ThrottleDecision d = decide(c, {reading(SignalKind::active_backends, 90, 20, 10, 80)}, 0, 0);
        EXPECT_EQ(d.kind, Kind::pause);
        EXPECT_EQ(d.signal, SignalKind::active_backends);
        EXPECT_EQ(d.reason, "active_backends 90 > 80 for 0 s (critical)");
    }
}

TEST(ThrottleCritical, FlagPauseReasonShowsOnlyTheName) {
    ThrottleController c;
    SignalReading r = reading(SignalKind::throttle_query, 1, 0, 0, 0.5);
    EXPECT_EQ(decide(c, {r}, 0, 30).kind, Kind::wait);
    ThrottleDecision d = decide(c, {r}, 30, 30);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.reason, "throttle_query for 30 s (critical)");
}

TEST(ThrottleCritical, PauseTakesPrecedenceOverAnEarlierWait) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {backends(12), lag(300 * MB)}, 0, 60).signal, SignalKind::active_backends);
    ThrottleDecision d = decide(c, {backends(12), lag(300 * MB)}, 60, 60);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.signal, SignalKind::replica_lag_bytes);
    EXPECT_EQ(d.reason, "replica_lag_bytes standby1 300 MB > 256 MB for 60 s (critical)");
}

TEST(ThrottleCritical, PauseTakesPrecedenceOverALaterWait) {
    ThrottleController c;
    EXPECT_EQ(decide(c, {lag(300 * MB), backends(12)}, 0, 60).kind, Kind::wait);
    ThrottleDecision d = decide(c, {lag(300 * MB), backends(12)}, 60, 60);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.signal, SignalKind::replica_lag_bytes);
}

TEST(ThrottleCritical, TimersArePerSignal) {
    ThrottleController c;
    SignalReading slot = reading(SignalKind::slot_lag_bytes, 5 * GB, GB, GB / 2, 4 * GB, "slot_a");
    EXPECT_EQ(decide(c, {lag(300 * MB)}, 0, 60).kind, Kind::wait);         // lag critical from 0
    EXPECT_EQ(decide(c, {lag(300 * MB), slot}, 30, 60).kind, Kind::wait);  // slot critical from 30
    EXPECT_EQ(decide(c, {lag(100 * MB), slot}, 45, 60).kind, Kind::wait);  // lag timer reset
    EXPECT_EQ(decide(c, {lag(300 * MB), slot}, 89, 60).kind, Kind::wait);  // slot 59 s, lag 0 s
    ThrottleDecision d = decide(c, {lag(300 * MB), slot}, 90, 60);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.signal, SignalKind::slot_lag_bytes);
    EXPECT_EQ(d.reason, "slot_lag slot_a 5 GB > 4 GB for 60 s (critical)");
}

TEST(ThrottleCritical, FirstPausingSignalInReadingOrderDecides) {
    ThrottleController c;
    SignalReading slot = reading(SignalKind::slot_lag_bytes, 5 * GB, GB, GB / 2, 4 * GB, "slot_a");
    ThrottleDecision d = decide(c, {slot, lag(300 * MB)}, 0, 0);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.signal, SignalKind::slot_lag_bytes);

    ThrottleController c2;
    d = decide(c2, {lag(300 * MB), slot}, 0, 0);
    EXPECT_EQ(d.kind, Kind::pause);
    EXPECT_EQ(d.signal, SignalKind::replica_lag_bytes);
}

}  // namespace

// A signal that is not measured for a while (a standby that disconnected) starts afresh when it comes
// back: a reconnecting standby that is still far behind is not paused for a critical period it was
// never seen through.
TEST(ThrottleAbsence, AnAbsentSignalForgetsItsCriticalTimerAndHysteresis) {
    ThrottleController c;
    SignalReading r;
    r.kind = SignalKind::replica_lag_bytes;
    r.enabled = true;
    r.value = 1000;
    r.limit = 100;
    r.resume_below = 50;
    r.critical = 400;
    EXPECT_EQ(c.decide(&r, 1, 0.0, 60.0).kind, ThrottleDecision::Kind::wait);
    EXPECT_EQ(c.decide(nullptr, 0, 1.0, 60.0).kind, ThrottleDecision::Kind::go);  // standby gone
    EXPECT_FALSE(c.throttled(SignalKind::replica_lag_bytes));
    // Back an hour later, still critical: waits, and pauses only after the full duration from now.
    EXPECT_EQ(c.decide(&r, 1, 3600.0, 60.0).kind, ThrottleDecision::Kind::wait);
    EXPECT_EQ(c.decide(&r, 1, 3659.0, 60.0).kind, ThrottleDecision::Kind::wait);
    EXPECT_EQ(c.decide(&r, 1, 3660.0, 60.0).kind, ThrottleDecision::Kind::pause);
    // Hysteresis too: absent, then back between the resume mark and the limit: goes.
    ThrottleController h;
    r.critical = 0;
    EXPECT_EQ(h.decide(&r, 1, 0.0, 60.0).kind, ThrottleDecision::Kind::wait);
    EXPECT_EQ(h.decide(nullptr, 0, 1.0, 60.0).kind, ThrottleDecision::Kind::go);
    r.value = 80;
    EXPECT_EQ(h.decide(&r, 1, 2.0, 60.0).kind, ThrottleDecision::Kind::go);
}
