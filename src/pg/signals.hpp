// Sampling the throttling signals inside the server (a transaction with SPI connected).
#pragma once

#include "core/checkpoint_pace.hpp"
#include "core/signal_cache.hpp"
#include "core/throttle.hpp"
#include "pg/pg_includes.hpp"

namespace sc::pg {

// GUCs of the throttling signals (module.cpp). 0 disables a limit.
extern double checkpoint_wal_share;  // safe_column.checkpoint_wal_share
extern int checkpoint_min_interval_setting_s;  // safe_column.checkpoint_min_interval (-1: derived)
extern bool wait_for_checkpoint;     // safe_column.wait_for_checkpoint
extern int max_replica_lag_kb;       // safe_column.max_replica_lag
extern int max_replica_lag_ms;       // safe_column.max_replica_lag_time
extern int max_slot_lag_kb;          // safe_column.max_slot_lag
extern int max_active_backends;      // safe_column.max_active_backends
extern bool yield_to_lock_waiters;   // safe_column.yield_to_lock_waiters
extern char *throttle_query;         // safe_column.throttle_query
extern int throttle_query_timeout_ms;
extern double critical_factor;       // safe_column.critical_factor
extern int critical_duration_ms;     // safe_column.critical_duration
extern int sample_interval_ms;       // safe_column.sample_interval

// The WAL the worker may write before the WAL since the last checkpoint reaches
// safe_column.checkpoint_wal_share of the distance to a forced one: what is left now (0 at or past it;
// negative when the signal is off) and the whole of it in this checkpoint cycle. The worker sizes its
// batches and times its VACUUMs to fit, so that no step carries the WAL past the limit (with a small
// max_wal_size the distance, to a segment boundary, can be less than one batch).
struct CheckpointBudget {
    double left;
    double whole;
    double room = -1;  // checkpoint_pace_budget(): WAL left before the server forces a checkpoint
};
CheckpointBudget checkpoint_wal_budget();
// The same under a given share (a job's own safe_column.checkpoint_wal_share, after its step).
CheckpointBudget checkpoint_wal_budget(double share);

// The checkpoint pace now: the minimum interval between checkpoints a backfill may cause
// (safe_column.checkpoint_min_interval, derived from checkpoint_warning by default), the average WAL rate
// that keeps to it (bytes per second; 0: no pace), and where the server is in its checkpoint cycle.
struct CheckpointPace {
    double interval_s;
    double rate;
    sc::CheckpointCycle cycle;
};
CheckpointPace checkpoint_pace();

// Under the checkpoint pace, the budget of what writes its WAL in one go (a VACUUM pass): whole, the
// nominal distance that forces a checkpoint; left, what the pace line allows at once now (whole once the
// interval has passed); room, what is left before the server forces a checkpoint. {-1, 0} without a pace.
CheckpointBudget checkpoint_pace_budget();

// Fill readings (at most sc::signal_count) for a job on table relid. The checkpoint signals are read
// every time (no query); the others (standbys, slots, backends, lock waiters, the throttle query) come
// from cache, read again when it is due (safe_column.sample_interval). *sampled: whether they were read
// this time. Labels point into the cache. now_s: a monotonic clock in seconds. Returns how many readings.
int sample_signals(sc::SignalReading *readings, Oid relid, sc::SignalCache *cache, double now_s, bool *sampled);

}  // namespace sc::pg
