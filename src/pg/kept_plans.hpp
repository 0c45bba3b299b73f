// Plans of the statements the worker runs at every step, prepared once per text and kept across
// transactions, instead of parsed, analysed and planned again each time.
#pragma once

#include "pg/pg_includes.hpp"

extern "C" {
#include "executor/spi.h"
}

namespace sc::pg {

// The kept plan of sql (with SPI connected), prepared the first time the text is seen with a generic
// plan (CURSOR_OPT_GENERIC_PLAN: planned once, whatever the parameter values), then found by its text.
// The text is the key: the same text always comes with the same parameter types. At most 16 texts are
// kept (a worker runs one job at a time; a job's texts change only with its table's or its schema's
// name); the least recently used goes. A plan stays valid the way a prepared statement does: the plan
// cache analyses and plans it again, at its next use, after a change to what it depends on (tables,
// functions, the role for row security), so it is checked and run in the caller's context of that use.
SPIPlanPtr kept_plan(const char *sql, int nargs, Oid *types);

// SPI_execute_plan of kept_plan(sql, ...): the SPI result code.
int spi_run_kept(const char *sql, int nargs, Oid *types, Datum *values, bool read_only);

}  // namespace sc::pg
