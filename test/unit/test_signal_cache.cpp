// Unit tests of src/core/signal_cache: when the worker reads the expensive throttling signals again,
// what it reuses in between, and the upper bound it takes for a lag in bytes between two samples.
#include "core/signal_cache.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <type_traits>

namespace {

using sc::grows_with_wal;
using sc::signal_bit;
using sc::SignalCache;
using sc::SignalKind;
using sc::SignalMask;
using sc::text_key;

static_assert(std::is_trivially_destructible_v<SignalCache>, "SignalCache lives across PostgreSQL longjmps");

constexpr double MB = 1024.0 * 1024.0;
const SignalMask kReplica = signal_bit(SignalKind::replica_lag_bytes);
const SignalMask kLocks = signal_bit(SignalKind::lock_waiters);
const SignalMask kQuery = signal_bit(SignalKind::throttle_query);
const SignalMask kSlot = signal_bit(SignalKind::slot_lag_bytes);

// A cache holding one finished sample taken at t = 10 s, WAL position 1000, of replica lag and lock
// waiters.
SignalCache sampled(SignalMask wanted = kReplica | kLocks, std::uint64_t query_key = text_key("")) {
    SignalCache c;
    c.begin(10.0, wanted, query_key, 1000);
    c.put(SignalKind::replica_lag_bytes, 5 * MB, "standby1");
    c.put(SignalKind::lock_waiters, 2, "");
    c.finish();
    return c;
}

TEST(SignalCache, EmptyCacheIsDueAndHasNothing) {
    SignalCache c;
    EXPECT_FALSE(c.valid());
    EXPECT_TRUE(c.due(0.0, 1.0, 0, text_key("")));
    EXPECT_TRUE(c.due(1e9, 1.0, kReplica, text_key("")));
    double v = -1;
    const char *label = nullptr;
    EXPECT_FALSE(c.get(SignalKind::replica_lag_bytes, 0, &v, &label));
    EXPECT_EQ(v, -1);
}

TEST(SignalCache, NotDueWithinTheInterval) {
    SignalCache c = sampled();
    EXPECT_TRUE(c.valid());
    EXPECT_DOUBLE_EQ(c.sampled_at(), 10.0);
    EXPECT_FALSE(c.due(10.0, 1.0, kReplica | kLocks, text_key("")));
    EXPECT_FALSE(c.due(10.5, 1.0, kReplica | kLocks, text_key("")));
    EXPECT_FALSE(c.due(10.999, 1.0, kReplica | kLocks, text_key("")));
}

TEST(SignalCache, DueOnceTheIntervalHasPassed) {
    SignalCache c = sampled();
    EXPECT_TRUE(c.due(11.0, 1.0, kReplica | kLocks, text_key("")));
    EXPECT_TRUE(c.due(100.0, 1.0, kReplica | kLocks, text_key("")));
    // A longer interval: still reused at 11 s.
    EXPECT_FALSE(c.due(11.0, 5.0, kReplica | kLocks, text_key("")));
    EXPECT_TRUE(c.due(15.0, 5.0, kReplica | kLocks, text_key("")));
}

TEST(SignalCache, IntervalZeroOrNegativeReadsEveryTime) {
    SignalCache c = sampled();
    EXPECT_TRUE(c.due(10.0, 0.0, kReplica | kLocks, text_key("")));
    EXPECT_TRUE(c.due(10.0, -1.0, kReplica | kLocks, text_key("")));
}

TEST(SignalCache, ClockGoingBackReadsAgain) {
    SignalCache c = sampled();
    EXPECT_TRUE(c.due(9.0, 1.0, kReplica | kLocks, text_key("")));
}

TEST(SignalCache, ASignalNotReadLastTimeMakesItDue) {
    SignalCache c = sampled(kReplica);
    EXPECT_FALSE(c.due(10.1, 1.0, kReplica, text_key("")));
    // max_slot_lag was just enabled (a reload, a job's override): read now, not in a second.
    EXPECT_TRUE(c.due(10.1, 1.0, kReplica | kSlot, text_key("")));
    // A signal disabled since: what is left is still reused.
    EXPECT_FALSE(c.due(10.1, 1.0, 0, text_key("")));
}

TEST(SignalCache, ChangedThrottleQueryMakesItDue) {
    SignalCache c = sampled(kQuery, text_key("SELECT true"));
    EXPECT_FALSE(c.due(10.1, 1.0, kQuery, text_key("SELECT true")));
    EXPECT_TRUE(c.due(10.1, 1.0, kQuery, text_key("SELECT false")));
    // Without the throttle query among the wanted signals, its text does not matter.
    SignalCache d = sampled(kReplica, text_key("SELECT true"));
    EXPECT_FALSE(d.due(10.1, 1.0, kReplica, text_key("SELECT false")));
}

TEST(SignalCache, ReusesValuesAndLabels) {
    SignalCache c = sampled();
    double v = 0;
    const char *label = nullptr;
    ASSERT_TRUE(c.get(SignalKind::lock_waiters, 1000, &v, &label));
    EXPECT_EQ(v, 2);
    EXPECT_STREQ(label, "");
    // Not a WAL distance: the WAL written since does not change it.
    ASSERT_TRUE(c.get(SignalKind::lock_waiters, 1000 + 64 * 1024 * 1024, &v, &label));
    EXPECT_EQ(v, 2);
}

TEST(SignalCache, ByteLagIsAnUpperBoundBetweenSamples) {
    SignalCache c = sampled();
    double v = 0;
    const char *label = nullptr;
    ASSERT_TRUE(c.get(SignalKind::replica_lag_bytes, 1000, &v, &label));
    EXPECT_DOUBLE_EQ(v, 5 * MB);
    EXPECT_STREQ(label, "standby1");
    // 3 MB of WAL since the sample: the standby is at most 8 MB behind.
    ASSERT_TRUE(c.get(SignalKind::replica_lag_bytes, 1000 + 3 * 1024 * 1024, &v, &label));
    EXPECT_DOUBLE_EQ(v, 8 * MB);
    // A position before the sample's (cannot happen; never lowers the value).
    ASSERT_TRUE(c.get(SignalKind::replica_lag_bytes, 10, &v, &label));
    EXPECT_DOUBLE_EQ(v, 5 * MB);
}

TEST(SignalCache, SlotLagGrowsWithWalToo) {
    SignalCache c;
    c.begin(0.0, kSlot, text_key(""), 1 << 20);
    c.put(SignalKind::slot_lag_bytes, 100, "lagslot");
    c.finish();
    double v = 0;
    const char *label = nullptr;
    ASSERT_TRUE(c.get(SignalKind::slot_lag_bytes, (1 << 20) + 50, &v, &label));
    EXPECT_DOUBLE_EQ(v, 150);
    EXPECT_STREQ(label, "lagslot");
}

TEST(SignalCache, GrowsWithWalOnlyForByteLags) {
    EXPECT_TRUE(grows_with_wal(SignalKind::replica_lag_bytes));
    EXPECT_TRUE(grows_with_wal(SignalKind::slot_lag_bytes));
    for (SignalKind k : {SignalKind::checkpoint_wal, SignalKind::checkpoint_running, SignalKind::replica_lag_seconds,
                         SignalKind::active_backends, SignalKind::lock_waiters, SignalKind::throttle_query})
        EXPECT_FALSE(grows_with_wal(k)) << sc::signal_name(k);
}

TEST(SignalCache, SignalNotFoundOrNotReadHasNoValue) {
    SignalCache c = sampled();
    double v = 0;
    const char *label = nullptr;
    // Read but nothing found (no active slot): absent.
    EXPECT_FALSE(c.get(SignalKind::slot_lag_bytes, 1000, &v, &label));
    // Found last time, not found this time: gone.
    c.begin(20.0, kReplica | kLocks, text_key(""), 2000);
    c.put(SignalKind::lock_waiters, 0, "");
    c.finish();
    EXPECT_FALSE(c.get(SignalKind::replica_lag_bytes, 2000, &v, &label));
    ASSERT_TRUE(c.get(SignalKind::lock_waiters, 2000, &v, &label));
    EXPECT_EQ(v, 0);
}

TEST(SignalCache, InterruptedSampleIsNotReused) {
    SignalCache c = sampled();
    c.begin(20.0, kReplica | kLocks, text_key(""), 2000);
    c.put(SignalKind::replica_lag_bytes, 1, "standby1");
    // an error here: no finish()
    EXPECT_FALSE(c.valid());
    EXPECT_TRUE(c.due(20.1, 1.0, kReplica | kLocks, text_key("")));
    double v = 0;
    const char *label = nullptr;
    EXPECT_FALSE(c.get(SignalKind::replica_lag_bytes, 2000, &v, &label));
    EXPECT_FALSE(c.get(SignalKind::lock_waiters, 2000, &v, &label));
}

TEST(SignalCache, LongLabelIsCutAtACharacterBoundary) {
    SignalCache c;
    c.begin(0.0, kQuery, text_key("q"), 0);
    // 126 ASCII bytes, then 'é' (2 bytes): a cut at 127 bytes would split it; it is left out whole.
    std::string label(126, 'a');
    label += "\xC3\xA9 and more";
    c.put(SignalKind::throttle_query, 1, label.c_str());
    c.finish();
    double v = 0;
    const char *got = nullptr;
    ASSERT_TRUE(c.get(SignalKind::throttle_query, 0, &v, &got));
    EXPECT_EQ(std::string(got), std::string(126, 'a'));
    // 125 ASCII bytes, then two 'é': the first fits whole (127 bytes), the second not at all.
    label = std::string(125, 'a') + "\xC3\xA9\xC3\xA9 and more";
    c.put(SignalKind::throttle_query, 1, label.c_str());
    ASSERT_TRUE(c.get(SignalKind::throttle_query, 0, &v, &got));
    EXPECT_EQ(std::string(got), std::string(125, 'a') + "\xC3\xA9");
    // A 3-byte character (U+20AC) across the cut.
    label = std::string(125, 'a') + "\xE2\x82\xAC";
    c.put(SignalKind::throttle_query, 1, label.c_str());
    ASSERT_TRUE(c.get(SignalKind::throttle_query, 0, &v, &got));
    EXPECT_EQ(std::string(got), std::string(125, 'a'));
    EXPECT_LT(std::strlen(got), static_cast<std::size_t>(SignalCache::label_size));

    // Exactly label_size - 1 bytes fit whole.
    std::string fits(SignalCache::label_size - 1, 'b');
    c.put(SignalKind::throttle_query, 1, fits.c_str());
    ASSERT_TRUE(c.get(SignalKind::throttle_query, 0, &v, &got));
    EXPECT_EQ(std::string(got), fits);
    // nullptr is an empty label.
    c.put(SignalKind::throttle_query, 0, nullptr);
    ASSERT_TRUE(c.get(SignalKind::throttle_query, 0, &v, &got));
    EXPECT_STREQ(got, "");
}

TEST(SignalCache, TextKey) {
    EXPECT_EQ(text_key(nullptr), text_key(""));
    EXPECT_EQ(text_key("SELECT true"), text_key("SELECT true"));
    EXPECT_NE(text_key("SELECT true"), text_key("SELECT false"));
    EXPECT_NE(text_key("a"), text_key(""));
}

}  // namespace
