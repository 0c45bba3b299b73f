// The forecast of a backfill before it starts (src/core/backfill_forecast), from the table's size and
// the current settings: for safe_add_column's and stage mode's NOTICE and safe_column_plan.
#pragma once

#include "core/backfill_forecast.hpp"
#include "pg/pg_includes.hpp"

namespace sc::pg {

// The inputs for filling the existing rows of relid (every partition) with a value of type typid
// (InvalidOid: unknown). A part another session holds a conflicting lock on counts by its pg_class
// figures (the caller never waits).
sc::ForecastInputs backfill_forecast_inputs(Oid relid, Oid typid);

// The forecast as one phrase, palloc'd ("about 1 min for about 1011 MB of WAL, limited by ..."), and
// its expected seconds.
char *backfill_forecast_text(const sc::ForecastInputs &in, double *seconds);

}  // namespace sc::pg
