// When to try again for a lock, and for how long to wait in the queue on each try.
//
// The brief ACCESS EXCLUSIVE step of safe_add_column waits in the lock queue for at most one short
// attempt at a time (while it waits, every session that arrives after it waits too), then steps out of
// the queue and sleeps with jittered exponential backoff so that the application's queries flow, and
// gives up when the total budget is spent.
#pragma once

#include <cstdint>
#include <optional>
#include <random>

namespace sc {

struct LockRetryPolicy {
    int attempt_timeout_ms = 100;  // longest wait in the queue per attempt
    int budget_ms = 30000;         // longest time from the first attempt to giving up
    int base_delay_ms = 50;        // sleep after the first failed attempt, before jitter
    int max_delay_ms = 2000;       // cap of the exponential sleep, before jitter
};

class LockRetrySchedule {
public:
    LockRetrySchedule(const LockRetryPolicy &policy, std::uint64_t seed);

    // How long the next attempt may wait in the lock queue when elapsed_ms have passed since the
    // first attempt began: the per-attempt limit, cut to what remains of the budget (at least 1 ms,
    // so that the first attempt is always made).
    int attempt_timeout_ms(double elapsed_ms) const;

    // After failed_attempts failed attempts, elapsed_ms after the first began: how long to sleep
    // before the next one, or nothing when the budget leaves no room for another attempt.
    std::optional<int> next_delay_ms(int failed_attempts, double elapsed_ms);

    const LockRetryPolicy &policy() const noexcept { return policy_; }

private:
    LockRetryPolicy policy_;
    std::mt19937_64 rng_;
};

}  // namespace sc
