// Rate and ETA of a job, smoothed over time so that one slow or fast batch does not make the ETA jump.
#pragma once

#include <optional>

namespace sc {

class RateMeter {
public:
    // half_life_s: after this long, an old rate weighs half.
    RateMeter() = default;
    explicit RateMeter(double half_life_s) : half_life_s_(half_life_s > 0 ? half_life_s : 10.0) {}

    // `units` more units done over `seconds` seconds of work.
    void add(double units, double seconds) noexcept;

    // Units per second; nothing before the first measurement.
    std::optional<double> rate() const noexcept;

    // Seconds to do `remaining` units at the current rate.
    std::optional<double> eta_seconds(double remaining) const;

private:
    double half_life_s_ = 10.0;
    double rate_ = 0.0;
    bool have_ = false;
};

}  // namespace sc
