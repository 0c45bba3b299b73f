// Per-job overrides of the safe_column.* settings that pace and throttle a backfill.
#pragma once

#include "pg/pg_includes.hpp"

namespace sc::pg {

// The settings a job may override, without the "safe_column." prefix. NULL when name is not one.
const char *overridable_setting(const char *name);

// All of them, comma-separated (palloc'd), for a hint.
char *overridable_settings_list();

// Raise a clean error when value is not valid for safe_column.<name> (the GUC's own checks: type,
// unit, range).
void validate_override(const char *name, const char *value);

// The worker's copies of the settings, to apply a job's overrides for one step and to put back.
struct SettingsSnapshot {
    double checkpoint_wal_share;
    int checkpoint_min_interval_s;
    bool wait_for_checkpoint;
    int max_replica_lag_kb;
    int max_replica_lag_ms;
    int max_slot_lag_kb;
    int max_active_backends;
    bool yield_to_lock_waiters;
    double critical_factor;
    int critical_duration_ms;
    int batch_target_ms;
    double batch_sleep_ratio;
    int max_wal_rate_kb;
};
void save_settings(SettingsSnapshot *out);
void restore_settings(const SettingsSnapshot *in);

// Apply the job's overrides (SPI connected, in the step's transaction). An override that no longer
// parses is ignored with a WARNING.
void apply_overrides(int64 job_id, const char *job_store);

}  // namespace sc::pg
