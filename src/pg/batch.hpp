// One batch of a fill phase (backfill, sweep, final_sweep): the UPDATE of a block range of one part,
// run as the table's owner, committed with its resume point and counters; the search for the row that
// made a batch fail; and the VACUUM of what was filled.
#pragma once

#include "pg/job_row.hpp"

namespace sc::pg {

struct BatchResult {
    Oid relid;
    int64 part_blocks;  // end of the part's range
    int blocks;
    int64 rows;
    double ms;
    int64 wal;  // bytes of WAL the batch statement wrote
};

// One batch on the part next_part() found (inside the step's transaction).
// skip_locked: the previous attempt at this range waited too long on a row the application holds.
void run_batch(Job *job, const PartCursor &part, const char *column, int blocks, bool skip_locked, BatchResult *res);

// After an expression error in a batch: the first row of the batch's range where the expression fails
// (its error and the row), or NULL. In a transaction of the caller's.
char *find_failing_row(const Job *job, const char *column, const PartCursor *part, int64 end);

// VACUUM (SKIP_LOCKED, TRUNCATE false) one table, between steps (no transaction open).
void vacuum_part(Oid relid);

}  // namespace sc::pg
