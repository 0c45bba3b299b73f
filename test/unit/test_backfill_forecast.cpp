// Unit tests of src/core/backfill_forecast: the WAL and duration of a backfill before it starts.
#include "core/backfill_forecast.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using sc::forecast_backfill;
using sc::ForecastInputs;
using sc::ForecastLimit;

constexpr double MB = 1024.0 * 1024.0;

ForecastInputs table(double heap_mb, double index_mb, double rows, double width = 16) {
    ForecastInputs in;
    in.heap_bytes = heap_mb * MB;
    in.index_bytes = index_mb * MB;
    in.rows = rows;
    in.value_width = width;
    in.throttle = false;
    return in;
}

// The WAL safe_add_column(..., 'uuid', backfill_expr => 'gen_random_uuid()') wrote with
// safe_column.throttle off on PostgreSQL 15 (500000 rows; 2000000 for the benchmark's users table).
TEST(BackfillWal, WithinTenPercentOfWhatWasMeasured) {
    struct Case {
        double heap_mb, index_mb, rows, measured_mb;
    } cases[] = {
        {83, 0, 500000, 221},     // users-like, no index
        {17, 0, 500000, 95},      // two ints
        {205, 0, 500000, 468},    // 400-byte rows
        {83, 10, 500000, 268},    // users-like, primary key
        {17, 10, 500000, 141},    // two ints, primary key
        {205, 38, 500000, 631},   // 400-byte rows, primary key and an expression index
        {289, 43, 2000000, 1066}, // the benchmark's users table
    };
    for (const Case &c : cases) {
        double wal = sc::estimate_backfill_wal(table(c.heap_mb, c.index_mb, c.rows)) / MB;
        EXPECT_NEAR(wal, c.measured_mb, 0.1 * c.measured_mb) << c.heap_mb << " MB heap, " << c.rows << " rows";
    }
}

TEST(BackfillWal, TheVacuumPassesAddAFewPercentWhenThrottled) {
    ForecastInputs in = table(289, 43, 2e6);
    double off = sc::estimate_backfill_wal(in);
    in.throttle = true;
    EXPECT_NEAR(sc::estimate_backfill_wal(in) / off, 1.0 + sc::kVacuumWalShare, 1e-9);
}

TEST(BackfillForecast, ThrottleOffIsTheWorkItself) {
    sc::Forecast f = forecast_backfill(table(289, 43, 2e6));
    EXPECT_EQ(f.limit, ForecastLimit::work);
    EXPECT_NEAR(f.seconds, f.wal_bytes / sc::kWorkWalRate, 1e-9);
    EXPECT_NE(sc::forecast_text(f, table(289, 43, 2e6)).find("limited by the work itself"), std::string::npos);
}

TEST(BackfillForecast, AtPostgresDefaultsTheCheckpointPaceLimitsAndALargerMaxWalSizeIsNamed) {
    ForecastInputs in = table(289, 43, 2e6);
    in.throttle = true;
    in.pace_interval_s = 33;
    in.pace_rate = 512 * MB / 33;  // max_wal_size 1GB
    sc::Forecast f = forecast_backfill(in);
    EXPECT_EQ(f.limit, ForecastLimit::checkpoint_pace);
    EXPECT_NEAR(f.seconds, f.wal_bytes / in.pace_rate, 1e-9);
    EXPECT_LT(f.work_seconds, f.seconds);
    // The pace must carry wal / work_seconds: 33 s of it, plus a segment, times 1.9.
    double needed_mb = (f.wal_bytes / f.work_seconds * 33 + 16 * MB) * 1.9 / MB;
    EXPECT_GE(f.better_max_wal_size_mb, needed_mb);
    EXPECT_LT(f.better_max_wal_size_mb, 2 * needed_mb);
    std::string text = sc::forecast_text(f, in);
    EXPECT_NE(text.find("limited by the checkpoint pace (15.5 MB/s: max_wal_size 1GB, checkpoints no closer than 33 s)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("; with max_wal_size = " + std::to_string(f.better_max_wal_size_mb / 1024) + "GB, about"),
              std::string::npos)
        << text;
}

TEST(BackfillForecast, ALargerMaxWalSizeIsNamedOnlyWhenItSavesTime) {
    ForecastInputs in = table(3, 1, 20000);  // a few seconds' work: a larger max_wal_size saves little
    in.throttle = true;
    in.pace_interval_s = 33;
    in.pace_rate = 512 * MB / 33;
    sc::Forecast f = forecast_backfill(in);
    EXPECT_EQ(f.limit, ForecastLimit::checkpoint_pace);
    EXPECT_EQ(f.better_max_wal_size_mb, 0);
    EXPECT_EQ(sc::forecast_text(f, in).find("with max_wal_size"), std::string::npos);
}

TEST(BackfillForecast, ALargeMaxWalSizeLeavesTheBatchPacing) {
    ForecastInputs in = table(289, 43, 2e6);
    in.throttle = true;
    in.max_wal_size_mb = 8192;
    in.pace_interval_s = 33;
    in.pace_rate = 4300 * MB / 33;
    sc::Forecast f = forecast_backfill(in);
    EXPECT_EQ(f.limit, ForecastLimit::batch_pacing);
    EXPECT_NEAR(f.seconds, f.wal_bytes / sc::kWorkWalRate * 1.5, 1e-9);
    EXPECT_EQ(f.better_max_wal_size_mb, 0);
    EXPECT_NE(sc::forecast_text(f, in).find("limited by the batch pacing (safe_column.batch_sleep_ratio 0.5"),
              std::string::npos);
}

TEST(BackfillForecast, MaxWalRateBelowThePaceLimits) {
    ForecastInputs in = table(289, 43, 2e6);
    in.throttle = true;
    in.pace_interval_s = 33;
    in.pace_rate = 512 * MB / 33;
    in.max_wal_rate = 1 * MB;
    sc::Forecast f = forecast_backfill(in);
    EXPECT_EQ(f.limit, ForecastLimit::max_wal_rate);
    EXPECT_NEAR(f.seconds, f.wal_bytes / MB, 1e-9);
    EXPECT_NE(sc::forecast_text(f, in).find("limited by safe_column.max_wal_rate (1.0 MB/s)"), std::string::npos);
}

// Standbys and logical slots cannot be foreseen: the forecast names them with the limits that make the
// backfill wait for them, and the rate they must keep up with; its duration does not change.
TEST(BackfillForecast, StandbysAndSlotsAreNamedWithTheirLimits) {
    ForecastInputs in = table(289, 43, 2e6);
    in.throttle = true;
    in.pace_interval_s = 33;
    in.pace_rate = 512 * MB / 33;
    sc::Forecast alone = forecast_backfill(in);
    EXPECT_EQ(sc::replication_text(alone, in), "");
    in.standbys = 1;
    in.max_replica_lag_bytes = 64 * MB;
    in.logical_slots = 2;
    in.max_slot_lag_bytes = 1024 * MB;
    sc::Forecast f = forecast_backfill(in);
    EXPECT_DOUBLE_EQ(f.seconds, alone.seconds);
    std::string text = sc::forecast_text(f, in);
    EXPECT_NE(text.find("; 1 streaming standby attached: it also waits whenever one is more than 64 MB "
                        "(safe_column.max_replica_lag) behind, so a standby that replays less than 15.5 MB/s sets "
                        "the pace"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("; 2 logical slots active: it also waits whenever one still needs more than 1024 MB "
                        "(safe_column.max_slot_lag), so a subscriber that confirms less than 15.5 MB/s sets the pace"),
              std::string::npos)
        << text;
    // Both replica limits, two standbys.
    in.standbys = 2;
    in.max_replica_lag_s = 30;
    EXPECT_NE(sc::replication_text(f, in).find("2 streaming standbys attached: it also waits whenever one is more "
                                               "than 64 MB (safe_column.max_replica_lag) or 30 s "
                                               "(safe_column.max_replica_lag_time) behind"),
              std::string::npos);
}

// A limit that is off, or nobody attached, or no throttling: nothing to name.
TEST(BackfillForecast, NoLimitOrNobodyAttachedNamesNothing) {
    ForecastInputs in = table(100, 10, 1e6);
    in.throttle = true;
    in.standbys = 1;  // but max_replica_lag off
    in.logical_slots = 1;  // but max_slot_lag off
    EXPECT_EQ(sc::replication_text(forecast_backfill(in), in), "");
    in.max_replica_lag_bytes = 64 * MB;
    in.max_slot_lag_bytes = 64 * MB;
    in.throttle = false;
    EXPECT_EQ(sc::replication_text(forecast_backfill(in), in), "");
    in.throttle = true;
    in.standbys = 0;
    in.logical_slots = 0;
    EXPECT_EQ(sc::replication_text(forecast_backfill(in), in), "");
}

TEST(BackfillForecast, NonsenseInputsGiveNoWalAndNoTime) {
    ForecastInputs in = table(std::nan(""), -5, -1, std::nan(""));
    in.throttle = true;
    in.pace_rate = std::nan("");
    in.max_wal_rate = -1;
    sc::Forecast f = forecast_backfill(in);
    EXPECT_DOUBLE_EQ(f.wal_bytes, 0.0);
    EXPECT_DOUBLE_EQ(f.seconds, 0.0);
    EXPECT_EQ(f.limit, ForecastLimit::batch_pacing);
}

}  // namespace
