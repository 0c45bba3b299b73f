#include "throttle.hpp"

#include <boost/format.hpp>
#include <cmath>

namespace sc {

namespace {
constexpr const char *names[signal_count] = {"checkpoint_wal",  "checkpoint_running", "replica_lag_bytes",
                                             "replica_lag_time", "slot_lag",           "active_backends",
                                             "lock_waiters",     "throttle_query"};

std::string describe(const SignalReading &r, const char *comparison, double bound) {
    Unit unit = signal_unit(r.kind);
    std::string text = signal_name(r.kind);
    if (r.label && r.label[0])
        text += std::string(" ") + r.label;
    if (unit == Unit::flag)
        return text;
    return (boost::format("%1% %2% %3% %4%") % text % format_signal_value(r.value, unit) % comparison %
            format_signal_value(bound, unit))
        .str();
}
}  // namespace

const char *signal_name(SignalKind kind) {
    int i = static_cast<int>(kind);
    return i >= 0 && i < signal_count ? names[i] : "unknown";
}

Unit signal_unit(SignalKind kind) {
    switch (kind) {
    case SignalKind::checkpoint_wal:
        return Unit::share;
    case SignalKind::checkpoint_running:
    case SignalKind::throttle_query:
        return Unit::flag;
    case SignalKind::replica_lag_bytes:
    case SignalKind::slot_lag_bytes:
        return Unit::bytes;
    case SignalKind::replica_lag_seconds:
        return Unit::seconds;
    default:
        return Unit::count;
    }
}

std::string format_signal_value(double value, Unit unit) {
    switch (unit) {
    case Unit::bytes: {
        const char *units[] = {"B", "kB", "MB", "GB", "TB"};
        int u = 0;
        double v = value;
        while (std::fabs(std::round(v)) >= 1024.0 && u < 4) {  // the unit of the rounded value
            v /= 1024.0;
            u++;
        }
        return u == 0 ? (boost::format("%1$.0f B") % v).str() : (boost::format("%1$.0f %2%") % v % units[u]).str();
    }
    case Unit::seconds:
        return (boost::format("%1$.1f s") % value).str();
    case Unit::share:
        return (boost::format("%1$.2f") % value).str();
    default:
        return (boost::format("%1$.0f") % value).str();
    }
}

ThrottleController::ThrottleController() {
    for (int i = 0; i < signal_count; i++) {
        throttled_[i] = false;
        critical_since_[i] = -1.0;
    }
}

ThrottleDecision ThrottleController::decide(const SignalReading *readings, int n, double now_s,
                                            double critical_for_s) {
    ThrottleDecision decision;
    bool have_wait = false;
    // A signal not measured this time (the standby disconnected, the slot went inactive) starts afresh
    // when it comes back: neither its hysteresis nor its critical timer carry over the gap.
    bool given[signal_count] = {};
    for (int i = 0; i < n; i++) {
        int k = static_cast<int>(readings[i].kind);
        if (k >= 0 && k < signal_count)
            given[k] = true;
    }
    for (int k = 0; k < signal_count; k++)
        if (!given[k]) {
            throttled_[k] = false;
            critical_since_[k] = -1.0;
        }
    for (int i = 0; i < n; i++) {
        const SignalReading &r = readings[i];
        int k = static_cast<int>(r.kind);
        if (k < 0 || k >= signal_count)
            continue;
        if (!r.enabled || !std::isfinite(r.value)) {
            throttled_[k] = false;
            critical_since_[k] = -1.0;
            continue;
        }
        // Hysteresis: once throttled, wait until the value fell to the resume mark.
        double resume = r.resume_below <= r.limit ? r.resume_below : r.limit;
        throttled_[k] = throttled_[k] ? r.value > resume : r.value > r.limit;

        if (r.critical > 0 && r.value > r.critical) {
            if (critical_since_[k] < 0)
                critical_since_[k] = now_s;
            if (now_s - critical_since_[k] >= critical_for_s) {
                decision.kind = ThrottleDecision::Kind::pause;
                decision.signal = r.kind;
                decision.reason = describe(r, ">", r.critical) +
                                  (boost::format(" for %1$.0f s (critical)") % (now_s - critical_since_[k])).str();
                return decision;
            }
        } else {
            critical_since_[k] = -1.0;
        }
        if (throttled_[k] && !have_wait) {
            have_wait = true;
            decision.kind = ThrottleDecision::Kind::wait;
            decision.signal = r.kind;
            decision.reason = r.value > r.limit ? describe(r, ">", r.limit) : describe(r, "> resume at", resume);
        }
    }
    return decision;
}

}  // namespace sc
