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

void WalPerBlock::observe(double wal_bytes, int blocks) noexcept {
    if (blocks <= 0 || !(wal_bytes >= 0.0) || !std::isfinite(wal_bytes))
        return;
    double sample = wal_bytes / blocks;
    bytes = bytes < 0.0 ? sample : std::max(sample, 0.9 * bytes);
}

int blocks_within_wal(int blocks, double wal_left_bytes, const WalPerBlock &per_block) noexcept {
    if (!(per_block.bytes > 0.0) || !(wal_left_bytes >= 0.0) || !std::isfinite(wal_left_bytes))
        return blocks;
    double fit = std::floor(wal_left_bytes / per_block.bytes);
    return fit >= blocks ? blocks : std::max(1, static_cast<int>(fit));
}

VacuumPlan plan_vacuum(const VacuumInputs &in, const WalPerBlock &same_cycle, const WalPerBlock &after_checkpoint) noexcept {
    VacuumPlan plan;
    if (in.filled <= 0)
        return plan;
    bool limited = in.wal_left >= 0.0 && std::isfinite(in.wal_left) && in.wal_budget > 0.0 && std::isfinite(in.wal_budget);
    double two_pages = 2.0 * in.page_bytes;
    double guess_after = two_pages;
    if (std::isfinite(in.batch_wal_per_block))
        guess_after = std::clamp(in.batch_wal_per_block, two_pages, kVacuumGuessPages * in.page_bytes);
    double est_same = same_cycle.bytes >= 0.0 ? same_cycle.bytes : two_pages;
    double est_after = after_checkpoint.bytes >= 0.0 ? after_checkpoint.bytes : guess_after;
    // When it comes due: at the worse of the two (a checkpoint can begin before it runs).
    double worst = std::max(est_same, est_after);
    long long every = std::max(1LL, in.every);
    if (limited && worst > 0.0) {
        double fit = std::floor(0.5 * in.wal_budget / worst);
        long long within = fit < static_cast<double>(every) ? static_cast<long long>(fit) : every;
        every = std::max(std::min(in.min_blocks, every), within);
    }
    double filled = static_cast<double>(in.filled);
    plan.expected_wal = (in.after_checkpoint ? est_after : est_same) * filled;
    bool paced = in.wal_room >= 0.0 && std::isfinite(in.wal_room);
    // Under the pace, due before it could outgrow half the room (so that it fits when it comes due).
    bool room_full = paced && in.filled >= std::min(in.min_blocks, every) && worst * filled >= kVacuumRoomDue * in.wal_room;
    plan.due = in.filled >= every || room_full;
    bool within_room = paced && plan.expected_wal <= 0.5 * in.wal_room;
    plan.fits = !limited || plan.expected_wal <= in.wal_left || within_room || in.wal_left >= 0.9 * in.wal_budget;
    return plan;
}

}  // namespace sc
