#include "batch_sizer.hpp"

#include <algorithm>
#include <cmath>

namespace sc {

namespace {
bool target_ms_ok(double ms) { return ms > 0.0 && std::isfinite(ms); }

BatchSizerConfig sanitize(BatchSizerConfig c) {
    if (!(c.target_ms > 0.0))
        c.target_ms = 100.0;
    c.min_blocks = std::max(1, c.min_blocks);
    c.max_blocks = std::max(c.min_blocks, c.max_blocks);
    c.initial_blocks = std::clamp(c.initial_blocks, c.min_blocks, c.max_blocks);
    return c;
}
}  // namespace

BatchSizer::BatchSizer(const BatchSizerConfig &config) : config_(sanitize(config)), blocks_(config_.initial_blocks) {}

void BatchSizer::observe(int blocks, double elapsed_ms) noexcept {
    if (blocks <= 0 || !std::isfinite(elapsed_ms) || elapsed_ms < 0.0)
        return;
    double sample = std::max(elapsed_ms, 0.01) / blocks;
    ms_per_block_ = ms_per_block_ < 0.0 ? sample : 0.5 * ms_per_block_ + 0.5 * sample;
    double wanted = config_.target_ms / ms_per_block_;
    double lo = std::max(1.0, std::ceil(blocks_ * 0.25));
    double hi = std::max(2.0, blocks_ * 2.0);
    wanted = std::clamp(wanted, lo, hi);
    wanted = std::clamp(wanted, static_cast<double>(config_.min_blocks), static_cast<double>(config_.max_blocks));
    blocks_ = static_cast<int>(wanted);
}

void BatchSizer::failed() noexcept { blocks_ = std::max(config_.min_blocks, blocks_ / 2); }

void BatchSizer::set_target_ms(double target_ms) noexcept {
    if (target_ms_ok(target_ms))
        config_.target_ms = target_ms;
}

double effective_target_ms(double configured_ms, bool throttled) noexcept {
    if (throttled || !(configured_ms < kUnthrottledMinTargetMs))
        return configured_ms;  // NaN stays NaN: set_target_ms() ignores it
    return kUnthrottledMinTargetMs;
}

double pause_after_batch_ms(double batch_ms, double sleep_ratio) noexcept {
    if (!(batch_ms > 0.0) || !(sleep_ratio > 0.0) || !std::isfinite(batch_ms) || !std::isfinite(sleep_ratio))
        return 0.0;
    return std::min(batch_ms * sleep_ratio, 60000.0);
}

long PauseDebt::owe(double pause_ms) noexcept {
    if (pause_ms > 0.0 && std::isfinite(pause_ms))
        owed_ms = std::min(owed_ms + pause_ms, 60000.0);
    return owed_ms >= 1.0 ? static_cast<long>(std::floor(owed_ms)) : 0;
}

void PauseDebt::paid(double slept_ms) noexcept {
    if (slept_ms > 0.0 && std::isfinite(slept_ms))
        owed_ms = std::max(owed_ms - slept_ms, -1000.0);
}

double pause_for_wal_rate_ms(double wal_bytes, double elapsed_ms, double max_bytes_per_s) noexcept {
    if (!(wal_bytes > 0.0) || !std::isfinite(wal_bytes) || !(max_bytes_per_s > 0.0) || !std::isfinite(max_bytes_per_s))
        return 0.0;
    double spent = elapsed_ms > 0.0 ? elapsed_ms : 0.0;  // NaN: none; +inf: long enough
    double wanted = wal_bytes / max_bytes_per_s * 1000.0;
    return std::clamp(wanted - spent, 0.0, 60000.0);
}

}  // namespace sc
