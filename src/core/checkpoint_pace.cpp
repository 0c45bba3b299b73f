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

double checkpoint_pace_allowance(const CheckpointCycle &cycle, double min_interval_s) noexcept {
    double line = checkpoint_pace_line(cycle.elapsed_s, min_interval_s);
    if (!(line < 1.0) || !(cycle.distance > 0.0) || !std::isfinite(cycle.distance))
        return HUGE_VAL;
    double since = cycle.since_redo > 0.0 && std::isfinite(cycle.since_redo) ? cycle.since_redo : 0.0;
    return std::max(0.0, line * cycle.distance - since);
}

}  // namespace sc
