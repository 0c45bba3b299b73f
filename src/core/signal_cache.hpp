// Reuse of the expensive throttling signals between two samples.
//
// Reading the standbys, the slots, the lock table, the backends and the DBA's throttle query costs SPI
// queries (reading pg_locks takes every lock-manager partition lock), and a worker steps several times
// a second. The cache keeps the last value of each such signal and tells the worker when to read them
// again: once per interval; at once when a signal that the last sample did not read is wanted now (a
// reload, a job's override), or when the throttle query changed.
//
// Between two samples a lag in bytes (of a standby, of a slot) is taken as its last value plus the WAL
// written since: the lag can grow by at most that much, so the value is an upper bound, and a batch never
// starts while a standby may be past its limit. The other signals keep their last value.
//
// Plain arrays only: the cache lives in the worker across PostgreSQL calls and must be trivially
// destructible.
#pragma once

#include <cstdint>

#include "core/throttle.hpp"

namespace sc {

using SignalMask = std::uint32_t;

constexpr SignalMask signal_bit(SignalKind kind) { return SignalMask{1} << static_cast<int>(kind); }

// The signals whose value is a distance behind the WAL's end: replica_lag_bytes and slot_lag_bytes.
bool grows_with_wal(SignalKind kind);

// A key of a text (FNV-1a): tells whether the throttle query changed. nullptr and "" have the same key.
std::uint64_t text_key(const char *text) noexcept;

class SignalCache {
public:
    static constexpr int label_size = 128;  // a longer label is cut, at a UTF-8 character boundary

    SignalCache();

    // Should the expensive signals be read now? wanted: the signals the settings in force enable;
    // query_key: text_key of the throttle query; interval_s <= 0: always.
    bool due(double now_s, double interval_s, SignalMask wanted, std::uint64_t query_key) const;

    // A new sample: forgets every value; until finish(), due() says yes (a sample interrupted by an
    // error is not reused). wal_pos: the end of WAL the lags are measured from, read just before them
    // (never after: the bound below must not be too small).
    void begin(double now_s, SignalMask wanted, std::uint64_t query_key, std::uint64_t wal_pos);
    // What the sample found for one signal (a signal with nothing to report, such as no standby, is
    // not put).
    void put(SignalKind kind, double value, const char *label) noexcept;
    void finish();

    // The value of a signal at WAL position wal_pos (the end of WAL now, WAL not yet written
    // included), from the last sample; false when it found none. label points into the cache.
    bool get(SignalKind kind, std::uint64_t wal_pos, double *value, const char **label) const;

    bool valid() const { return valid_; }
    double sampled_at() const { return sampled_at_; }

private:
    bool valid_;
    double sampled_at_;
    SignalMask sampled_;  // the signals the last sample read
    std::uint64_t query_key_;
    std::uint64_t wal_at_;
    bool found_[signal_count];
    double value_[signal_count];
    char label_[signal_count][label_size];
};

}  // namespace sc
