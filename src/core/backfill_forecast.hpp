// The forecast of a backfill before it starts: the WAL it will write and how long it will take at the
// current settings, what limits it, and the setting that would change it.
//
// The WAL model was fitted on PostgreSQL 15 to safe_add_column's WAL over tables of 35 to 430 bytes a
// row with one or two indexes (within 5 %): an UPDATE writes every heap page once as a full-page image
// and the new row version in a record of its own, and inserts into every index (entries, full-page
// images of the index pages, page splits). The worker's VACUUM passes add a few percent. The speed of
// the work itself is the worker's WAL rate at full speed on the reference 2-core machine
// (docs/benchmarks.md): the one figure here that depends on the machine.
#pragma once

#include <string>

namespace sc {

inline constexpr double kWalPerHeapByte = 1.9;
inline constexpr double kWalPerRow = 112.0;        // record headers; the new value's width comes on top
inline constexpr double kWalPerIndexByte = 4.4;
inline constexpr double kVacuumWalShare = 0.05;    // the worker's VACUUM passes (throttled only)
// Bytes of WAL per second of batches at full speed: (4) of backfill.sh (throttle off) wrote 1066-1155
// MB in 19.9-21.4 s in this version's runs, 50-58 MB/s with the foreground running beside it; (5) with
// max_wal_size 8GB (the batch pacing binds, sleep ratio 0.5) took 28.3 and 36.8 s for 1.1 GB, i.e. 45-58
// MB/s of batches. It was 30 MB/s before the worker's statements had kept plans.
inline constexpr double kWorkWalRate = 50.0 * 1024 * 1024;

struct ForecastInputs {
    double heap_bytes = 0;
    double index_bytes = 0;
    double rows = 0;
    double value_width = 32;      // bytes of the new value in each row (a fixed-width type's own)
    bool throttle = true;         // safe_column.throttle
    double sleep_ratio = 0.5;     // safe_column.batch_sleep_ratio
    double max_wal_rate = 0;      // safe_column.max_wal_rate, bytes per second (0: none)
    double pace_rate = 0;         // the checkpoint pace, bytes per second (0: none)
    double pace_interval_s = 0;   // its minimum interval between checkpoints
    int max_wal_size_mb = 1024;
    double completion_target = 0.9;  // checkpoint_completion_target
    double segment_bytes = 16.0 * 1024 * 1024;
    // Who else the backfill's WAL must reach, and the limits that hold it for them (0: off). Their
    // speed cannot be foreseen: the forecast names them, it does not count them.
    int standbys = 0;                  // streaming standbys attached now
    double max_replica_lag_bytes = 0;  // safe_column.max_replica_lag
    double max_replica_lag_s = 0;      // safe_column.max_replica_lag_time
    int logical_slots = 0;             // logical replication slots active now
    double max_slot_lag_bytes = 0;     // safe_column.max_slot_lag
};

enum class ForecastLimit { work, batch_pacing, checkpoint_pace, max_wal_rate };

struct Forecast {
    double wal_bytes = 0;
    double seconds = 0;        // the expected duration of the fill
    double work_seconds = 0;   // the same with the WAL limits lifted (the work and the batch pacing)
    ForecastLimit limit = ForecastLimit::work;
    int better_max_wal_size_mb = 0;  // checkpoint_pace: the max_wal_size that lifts it, when that saves
                                     // a tenth of the time and 10 s at least (0: none)
};

double estimate_backfill_wal(const ForecastInputs &in) noexcept;
Forecast forecast_backfill(const ForecastInputs &in) noexcept;

// "about 1 min 10 s for about 1.0 GB of WAL, limited by the checkpoint pace (15.5 MB/s: max_wal_size
// 1024 MB, checkpoints no closer than 33 s); with max_wal_size = 4GB, about 52 s", then what may hold it
// beyond that (replication_text).
std::string forecast_text(const Forecast &f, const ForecastInputs &in);

// What may hold the backfill beyond the forecast: the standbys and logical slots attached now, with the
// lag limits that make it wait for them and the rate they must keep up with ("" when none applies):
// "; 1 streaming standby attached: it also waits whenever one is more than 64 MB
// (safe_column.max_replica_lag) behind, so a standby that replays less than 14.0 MB/s sets the pace".
std::string replication_text(const Forecast &f, const ForecastInputs &in);

}  // namespace sc
