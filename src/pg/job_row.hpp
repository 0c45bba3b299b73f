// The worker's reads and writes of its job's rows (safe_column_job_store, safe_column_job_part), each
// in the current worker transaction. The tables are named anew in every transaction (extension_table:
// found by OID, their schema locked against renames).
#pragma once

#include "core/job_phase.hpp"
#include "core/throttle.hpp"
#include "pg/pg_includes.hpp"

extern "C" {
#include "access/attnum.h"
#include "utils/palloc.h"
}

namespace sc::pg {

struct Job {
    int64 id;
    Oid relid;
    AttrNumber attnum;
    Oid creator;
    bool not_null;
    bool new_rows_get_value;
    char *fill_expr;
    char *constraint_name;
    bool has_staged;  // constraints of the column's own to add and validate (set once per run)
    bool has_index;   // a UNIQUE / PRIMARY KEY of the column's own to build and attach (set once per run)
    bool has_identity;  // an identity column, numbered from a staging sequence (set once per run)
    sc::JobPhase phase;
    int sweep_passes;
    int64 pass_rows;
    char *state;
};

// Where a fill phase goes on: the first part (table or partition) not done yet.
struct PartCursor {
    Oid relid;
    int64 next_block;
    int64 end_block;
};

char *store_table();
char *part_table();
void notify(int64 job_id);

// Load the job and lock its row for the rest of the transaction; false when the row is gone.
bool load_job(int64 job_id, Job *job);
// Copy a job loaded inside a transaction into the worker's job memory context.
void keep_job(Job *job, MemoryContext cxt);
void set_phase(Job *job, sc::JobPhase phase);
// Start a (new) sweep pass: every part from block 0 to its current end.
void reset_parts(const Job *job, int passes);
bool next_part(const Job *job, PartCursor *out);
void set_started(int64 job_id);
// Record the time napped on throttling signals (milliseconds by signal) in the job.
void record_throttled(int64 job_id, const double *ms_by_signal);
void pause_job(int64 job_id, const char *reason);
// Mark the job failed, in a transaction of its own.
void fail_job(int64 job_id, const char *message, const double *unrecorded_throttle_ms);
// The next job this database's worker should run (0: none).
int64 next_runnable_job();

}  // namespace sc::pg
