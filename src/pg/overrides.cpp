#include <cstring>

#include "pg/kept_plans.hpp"
#include "pg/overrides.hpp"
#include "pg/signals.hpp"
#include "pg/worker.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
}

namespace sc::pg {

namespace {

enum class Kind { real, integer, boolean };

struct Setting {
    const char *name;
    Kind kind;
    int flags;  // GUC unit
    void *var;
};

const Setting settings[] = {
    {"checkpoint_wal_share", Kind::real, 0, &checkpoint_wal_share},
    {"checkpoint_min_interval", Kind::integer, GUC_UNIT_S, &checkpoint_min_interval_setting_s},
    {"wait_for_checkpoint", Kind::boolean, 0, &wait_for_checkpoint},
    {"max_replica_lag", Kind::integer, GUC_UNIT_KB, &max_replica_lag_kb},
    {"max_replica_lag_time", Kind::integer, GUC_UNIT_MS, &max_replica_lag_ms},
    {"max_slot_lag", Kind::integer, GUC_UNIT_KB, &max_slot_lag_kb},
    {"max_active_backends", Kind::integer, 0, &max_active_backends},
    {"yield_to_lock_waiters", Kind::boolean, 0, &yield_to_lock_waiters},
    {"critical_factor", Kind::real, 0, &critical_factor},
    {"critical_duration", Kind::integer, GUC_UNIT_MS, &critical_duration_ms},
    {"batch_target", Kind::integer, GUC_UNIT_MS, &batch_target_ms},
    {"batch_sleep_ratio", Kind::real, 0, &batch_sleep_ratio},
    {"max_wal_rate", Kind::integer, GUC_UNIT_KB, &max_wal_rate_kb},
};

const Setting *find(const char *name) {
    for (const Setting &s : settings)
        if (strcmp(s.name, name) == 0)
            return &s;
    return nullptr;
}

bool assign(const Setting *s, const char *value) {
    switch (s->kind) {
    case Kind::real: {
        double d;
        if (!parse_real(value, &d, s->flags, nullptr))
            return false;
        *static_cast<double *>(s->var) = d;
        return true;
    }
    case Kind::integer: {
        int i;
        if (!parse_int(value, &i, s->flags, nullptr))
            return false;
        *static_cast<int *>(s->var) = i;
        return true;
    }
    case Kind::boolean: {
        bool b;
        if (!parse_bool(value, &b))
            return false;
        *static_cast<bool *>(s->var) = b;
        return true;
    }
    }
    return false;
}

}  // namespace

const char *overridable_setting(const char *name) {
    const Setting *s = find(name);
    return s ? s->name : nullptr;
}

char *overridable_settings_list() {
    StringInfoData out;
    initStringInfo(&out);
    for (const Setting &s : settings)
        appendStringInfo(&out, "%s%s", out.len > 0 ? ", " : "", s.name);
    return out.data;
}

void validate_override(const char *name, const char *value) {
    char *full = psprintf("safe_column.%s", name);
    // changeVal = false: the GUC's own parsing and range checks, nothing is set.
    (void)set_config_option(full, value, PGC_SIGHUP, PGC_S_FILE, GUC_ACTION_SET, false, ERROR, false);
}

void save_settings(SettingsSnapshot *out) {
    *out = SettingsSnapshot{checkpoint_wal_share, checkpoint_min_interval_setting_s, wait_for_checkpoint,
                            max_replica_lag_kb,   max_replica_lag_ms,  max_slot_lag_kb,      max_active_backends,
                            yield_to_lock_waiters, critical_factor,    critical_duration_ms, batch_target_ms,
                            batch_sleep_ratio,    max_wal_rate_kb};
}

void restore_settings(const SettingsSnapshot *in) {
    checkpoint_wal_share = in->checkpoint_wal_share;
    checkpoint_min_interval_setting_s = in->checkpoint_min_interval_s;
    wait_for_checkpoint = in->wait_for_checkpoint;
    max_replica_lag_kb = in->max_replica_lag_kb;
    max_replica_lag_ms = in->max_replica_lag_ms;
    max_slot_lag_kb = in->max_slot_lag_kb;
    max_active_backends = in->max_active_backends;
    yield_to_lock_waiters = in->yield_to_lock_waiters;
    critical_factor = in->critical_factor;
    critical_duration_ms = in->critical_duration_ms;
    batch_target_ms = in->batch_target_ms;
    batch_sleep_ratio = in->batch_sleep_ratio;
    max_wal_rate_kb = in->max_wal_rate_kb;
}

void apply_overrides(int64 job_id, const char *job_store) {
    char *sql = psprintf("SELECT s.key, s.value FROM %s j, pg_catalog.jsonb_each_text(j.settings) s"
                         " WHERE j.job_id = $1",
                         job_store);
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(job_id)};
    int rc = spi_run_kept(sql, 1, types, values, true);  // every step: a kept plan
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
    for (uint64 i = 0; i < SPI_processed; i++) {
        char *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
        char *value = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
        const Setting *s = name ? find(name) : nullptr;
        if (s == nullptr || value == nullptr || !assign(s, value))
            ereport(WARNING, (errmsg("safe_column job " INT64_FORMAT ": ignoring override %s = %s", job_id,
                                     name ? name : "?", value ? value : "NULL")));
    }
}

}  // namespace sc::pg
