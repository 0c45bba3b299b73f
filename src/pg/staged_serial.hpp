// A serial column staged (stage mode, ADD COLUMN ... serial): what PostgreSQL's serial makes, without
// the rewrite (staged_serial.cpp).
#pragma once

#include "pg/pg_includes.hpp"

namespace sc::pg {

// Creates the sequence `sequence` (qualified and quoted) AS `type`, of the table's persistence and
// owner; adds the column with nextval() of it as its default and NOT NULL, as a safe_add_column job
// (the worker numbers the existing rows from the same sequence); then makes the sequence owned by the
// column. All in the caller's transaction. Returns the job id.
int64 stage_serial_column(Oid relid, const char *column, const char *type, const char *sequence, char **forecast);

}  // namespace sc::pg
