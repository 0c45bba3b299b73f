#include "rate_meter.hpp"

#include <cmath>

namespace sc {

void RateMeter::add(double units, double seconds) noexcept {
    if (!(seconds > 0.0) || !std::isfinite(seconds) || !std::isfinite(units) || units < 0.0)
        return;
    double sample = units / seconds;
    if (!have_) {
        rate_ = sample;
        have_ = true;
        return;
    }
    double keep = std::exp2(-seconds / half_life_s_);
    rate_ = keep * rate_ + (1.0 - keep) * sample;
}

std::optional<double> RateMeter::rate() const noexcept {
    if (!have_)
        return std::nullopt;
    return rate_;
}

std::optional<double> RateMeter::eta_seconds(double remaining) const {
    if (!have_ || !(rate_ > 0.0))
        return std::nullopt;
    if (!(remaining > 0.0))
        return 0.0;
    return remaining / rate_;
}

}  // namespace sc
