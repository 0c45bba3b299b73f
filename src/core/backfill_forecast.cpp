#include "backfill_forecast.hpp"

#include <algorithm>
#include <boost/format.hpp>
#include <cmath>
#include <vector>

#include "ddl_guard.hpp"

namespace sc {

namespace {

double positive(double v) { return v > 0.0 && std::isfinite(v) ? v : 0.0; }

// The smallest power-of-two max_wal_size (in MB, at least 2 GB) whose checkpoint pace carries
// wal_rate: the forcing distance is about max_wal_size / (1 + completion_target), less a segment.
int max_wal_size_for(double wal_rate, const ForecastInputs &in) {
    double distance = wal_rate * in.pace_interval_s + in.segment_bytes;
    double needed_mb = distance * (1.0 + std::max(0.0, in.completion_target)) / (1024.0 * 1024.0);
    for (int mb = 2048; mb > 0 && mb <= (1 << 30); mb *= 2)
        if (mb >= needed_mb)
            return mb;
    return 0;
}

std::string mb_setting(int mb) {
    return mb % 1024 == 0 ? (boost::format("%1%GB") % (mb / 1024)).str() : (boost::format("%1%MB") % mb).str();
}

std::string rate_text(double bytes_per_s) {
    return (boost::format("%1$.1f MB/s") % (bytes_per_s / (1024.0 * 1024.0))).str();
}

}  // namespace

double estimate_backfill_wal(const ForecastInputs &in) noexcept {
    double wal = kWalPerHeapByte * positive(in.heap_bytes) +
                 (kWalPerRow + positive(in.value_width)) * positive(in.rows) +
                 kWalPerIndexByte * positive(in.index_bytes);
    return in.throttle ? wal * (1.0 + kVacuumWalShare) : wal;
}

Forecast forecast_backfill(const ForecastInputs &in) noexcept {
    Forecast f;
    f.wal_bytes = estimate_backfill_wal(in);
    double pacing = in.throttle ? 1.0 + positive(in.sleep_ratio) : 1.0;
    f.work_seconds = f.wal_bytes / kWorkWalRate * pacing;
    f.seconds = f.work_seconds;
    f.limit = in.throttle && positive(in.sleep_ratio) > 0.0 ? ForecastLimit::batch_pacing : ForecastLimit::work;
    if (!in.throttle)
        return f;
    double pace = positive(in.pace_rate), cap = positive(in.max_wal_rate);
    if (pace > 0.0 && f.wal_bytes / pace > f.seconds) {
        f.seconds = f.wal_bytes / pace;
        f.limit = ForecastLimit::checkpoint_pace;
    }
    if (cap > 0.0 && f.wal_bytes / cap > f.seconds) {
        f.seconds = f.wal_bytes / cap;
        f.limit = ForecastLimit::max_wal_rate;
    }
    // A larger max_wal_size is worth naming when it saves a tenth of the time and ten seconds at least.
    if (f.limit == ForecastLimit::checkpoint_pace && f.work_seconds > 0.0 &&
        f.seconds - f.work_seconds >= std::max(10.0, 0.1 * f.seconds))
        f.better_max_wal_size_mb = max_wal_size_for(f.wal_bytes / f.work_seconds, in);
    return f;
}

namespace {

// The forecast and what limits it, with the setting that would change it.
std::string forecast_limit_text(const Forecast &f, const ForecastInputs &in) {
    std::string text = (boost::format("%1% for about %2% of WAL, limited by ") % ddl::pretty_seconds(f.seconds) %
                        ddl::pretty_bytes(static_cast<std::int64_t>(f.wal_bytes)))
                           .str();
    switch (f.limit) {
    case ForecastLimit::work:
        return text + "the work itself (safe_column.throttle is off)";
    case ForecastLimit::batch_pacing:
        return text + (boost::format("the batch pacing (safe_column.batch_sleep_ratio %1%: a lower ratio is "
                                     "faster and weighs more on the application)") %
                       in.sleep_ratio)
                          .str();
    case ForecastLimit::max_wal_rate:
        return text + (boost::format("safe_column.max_wal_rate (%1%)") % rate_text(in.max_wal_rate)).str();
    case ForecastLimit::checkpoint_pace:
        break;
    }
    text += (boost::format("the checkpoint pace (%1%: max_wal_size %2%, checkpoints no closer than %3$.0f s)") %
             rate_text(in.pace_rate) % mb_setting(in.max_wal_size_mb) % in.pace_interval_s)
                .str();
    if (f.better_max_wal_size_mb > in.max_wal_size_mb)
        text += (boost::format("; with max_wal_size = %1%, %2%") % mb_setting(f.better_max_wal_size_mb) %
                 ddl::pretty_seconds(f.work_seconds))
                    .str();
    return text;
}

}  // namespace

std::string replication_text(const Forecast &f, const ForecastInputs &in) {
    if (!in.throttle)
        return "";
    std::string rate = f.seconds > 0.0 ? rate_text(f.wal_bytes / f.seconds) : "";
    std::string text;
    std::vector<std::string> limits;
    if (positive(in.max_replica_lag_bytes) > 0.0)
        limits.push_back((boost::format("%1% (safe_column.max_replica_lag)") %
                          ddl::pretty_bytes(static_cast<std::int64_t>(in.max_replica_lag_bytes)))
                             .str());
    if (positive(in.max_replica_lag_s) > 0.0)
        limits.push_back((boost::format("%1$.0f s (safe_column.max_replica_lag_time)") % in.max_replica_lag_s).str());
    if (in.standbys > 0 && !limits.empty()) {
        text += (boost::format("; %1% streaming standby%2% attached: it also waits whenever one is more than %3% "
                               "behind, so a standby that replays less than %4% sets the pace") %
                 in.standbys % (in.standbys == 1 ? "" : "s") %
                 (limits.size() == 1 ? limits[0] : limits[0] + " or " + limits[1]) % rate)
                    .str();
    }
    if (in.logical_slots > 0 && positive(in.max_slot_lag_bytes) > 0.0) {
        text += (boost::format("; %1% logical slot%2% active: it also waits whenever one still needs more than %3% "
                               "(safe_column.max_slot_lag), so a subscriber that confirms less than %4% sets the pace") %
                 in.logical_slots % (in.logical_slots == 1 ? "" : "s") %
                 ddl::pretty_bytes(static_cast<std::int64_t>(in.max_slot_lag_bytes)) % rate)
                    .str();
    }
    return text;
}

std::string forecast_text(const Forecast &f, const ForecastInputs &in) {
    return forecast_limit_text(f, in) + replication_text(f, in);
}

}  // namespace sc
