#include "signal_cache.hpp"

#include <cstring>

namespace sc {

bool grows_with_wal(SignalKind kind) {
    return kind == SignalKind::replica_lag_bytes || kind == SignalKind::slot_lag_bytes;
}

std::uint64_t text_key(const char *text) noexcept {
    std::uint64_t h = 14695981039346656037ULL;
    if (text != nullptr)
        for (const unsigned char *p = reinterpret_cast<const unsigned char *>(text); *p; p++) {
            h ^= *p;
            h *= 1099511628211ULL;
        }
    return h;
}

SignalCache::SignalCache() : valid_(false), sampled_at_(0), sampled_(0), query_key_(0), wal_at_(0) {
    for (int i = 0; i < signal_count; i++) {
        found_[i] = false;
        value_[i] = 0;
        label_[i][0] = '\0';
    }
}

bool SignalCache::due(double now_s, double interval_s, SignalMask wanted, std::uint64_t query_key) const {
    if (!valid_ || interval_s <= 0)
        return true;
    if ((wanted & ~sampled_) != 0)
        return true;  // a signal the last sample did not read
    if ((wanted & signal_bit(SignalKind::throttle_query)) != 0 && query_key != query_key_)
        return true;
    // A clock that went back (it should not: monotonic) reads again rather than trust the old sample.
    return now_s < sampled_at_ || now_s - sampled_at_ >= interval_s;
}

void SignalCache::begin(double now_s, SignalMask wanted, std::uint64_t query_key, std::uint64_t wal_pos) {
    valid_ = false;
    sampled_at_ = now_s;
    sampled_ = wanted;
    query_key_ = query_key;
    wal_at_ = wal_pos;
    for (int i = 0; i < signal_count; i++) {
        found_[i] = false;
        value_[i] = 0;
        label_[i][0] = '\0';
    }
}

void SignalCache::put(SignalKind kind, double value, const char *label) noexcept {
    int k = static_cast<int>(kind);
    if (k < 0 || k >= signal_count)
        return;
    found_[k] = true;
    value_[k] = value;
    std::size_t len = label ? std::strlen(label) : 0;
    if (len >= static_cast<std::size_t>(label_size)) {
        len = label_size - 1;
        // Do not cut a multi-byte character: back up to the first byte of the one that does not fit.
        while (len > 0 && (static_cast<unsigned char>(label[len]) & 0xC0) == 0x80)
            len--;
    }
    if (len > 0)
        std::memcpy(label_[k], label, len);
    label_[k][len] = '\0';
}

void SignalCache::finish() { valid_ = true; }

bool SignalCache::get(SignalKind kind, std::uint64_t wal_pos, double *value, const char **label) const {
    int k = static_cast<int>(kind);
    if (!valid_ || k < 0 || k >= signal_count || (sampled_ & signal_bit(kind)) == 0 || !found_[k])
        return false;
    double v = value_[k];
    if (grows_with_wal(kind) && wal_pos > wal_at_)
        v += static_cast<double>(wal_pos - wal_at_);
    *value = v;
    *label = label_[k];
    return true;
}

}  // namespace sc
