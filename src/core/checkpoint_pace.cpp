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

double pause_for_checkpoint_pace_ms(const CheckpointCycle &cycle, double min_interval_s) noexcept {
    double rate = checkpoint_pace_rate(cycle.distance, min_interval_s);
    if (!(rate > 0.0) || !(cycle.since_redo > 0.0) || !std::isfinite(cycle.since_redo))
        return 0.0;
    double elapsed = cycle.elapsed_s > 0.0 && std::isfinite(cycle.elapsed_s) ? cycle.elapsed_s : 0.0;
    double due_at = std::min(cycle.since_redo / rate, min_interval_s);  // when the line reaches it
    return std::max(0.0, due_at - elapsed) * 1000.0;
}

}  // namespace sc
