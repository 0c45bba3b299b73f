#include "lock_retry.hpp"

#include <algorithm>
#include <cmath>

namespace sc {

namespace {
LockRetryPolicy sanitize(LockRetryPolicy p) {
    p.attempt_timeout_ms = std::max(1, p.attempt_timeout_ms);
    p.budget_ms = std::max(0, p.budget_ms);
    p.base_delay_ms = std::max(1, p.base_delay_ms);
    p.max_delay_ms = std::max(p.base_delay_ms, p.max_delay_ms);
    return p;
}
}  // namespace

LockRetrySchedule::LockRetrySchedule(const LockRetryPolicy &policy, std::uint64_t seed)
    : policy_(sanitize(policy)), rng_(seed) {}

int LockRetrySchedule::attempt_timeout_ms(double elapsed_ms) const {
    double remaining = static_cast<double>(policy_.budget_ms) - elapsed_ms;
    double limit = std::min(static_cast<double>(policy_.attempt_timeout_ms), remaining);
    if (!(limit >= 1.0))  // also catches NaN and anything far past the budget before the cast
        return 1;
    return static_cast<int>(limit);
}

std::optional<int> LockRetrySchedule::next_delay_ms(int failed_attempts, double elapsed_ms) {
    double remaining = static_cast<double>(policy_.budget_ms) - elapsed_ms;
    if (remaining < 1.0)
        return std::nullopt;

    // Exponential growth from the base, capped; the exponent is bounded so the shift cannot overflow.
    int exponent = std::clamp(failed_attempts, 1, 31) - 1;
    double delay = std::min(static_cast<double>(policy_.max_delay_ms),
                            static_cast<double>(policy_.base_delay_ms) * std::ldexp(1.0, exponent));
    // "Equal jitter": half fixed, half random, so that retries of several sessions spread out but
    // never collapse to zero.
    std::uniform_real_distribution<double> jitter(0.0, delay / 2.0);
    double sleep = delay / 2.0 + jitter(rng_);

    // Leave room for one more attempt of at least 1 ms inside the budget.
    sleep = std::min(sleep, remaining - 1.0);
    if (sleep < 0.0)
        return std::nullopt;
    return static_cast<int>(sleep);
}

}  // namespace sc
