#include "checkpoint_pace.hpp"

#include <algorithm>
#include <cmath>

namespace sc {

double checkpoint_min_interval_s(int setting_s, int checkpoint_warning_s) noexcept {
    if (setting_s > 0)
        return setting_s;
    if (setting_s == 0)
        return 0.0;
    double warning = checkpoint_warning_s > 0 ? checkpoint_warning_s : kDefaultCheckpointWarningS;
    return warning * (1.0 + kPaceMargin);
}

double checkpoint_pace_rate(double distance_bytes, double min_interval_s) noexcept {
    if (!(distance_bytes > 0.0) || !(min_interval_s > 0.0) || !std::isfinite(distance_bytes) ||
        !std::isfinite(min_interval_s))
        return 0.0;
    return distance_bytes / min_interval_s;
}

double checkpoint_pace_line(double elapsed_s, double min_interval_s) noexcept {
    if (!(min_interval_s > 0.0) || !std::isfinite(min_interval_s))
        return HUGE_VAL;
    double elapsed = elapsed_s > 0.0 && std::isfinite(elapsed_s) ? elapsed_s : 0.0;
    return (elapsed + 0.5 * kPaceMargin / (1.0 + kPaceMargin) * min_interval_s) / min_interval_s;
}

}  // namespace sc
