// The job table: where every safe_add_column call is recorded, in the caller's transaction.
#pragma once

#include "pg/pg_includes.hpp"

extern "C" {
#include "access/attnum.h"
#include "nodes/pg_list.h"
}

namespace sc::pg {

// Internal SQL runs as the extension's owner with search_path pinned to pg_catalog, so that neither
// the caller's rights nor objects the caller planted in its search_path affect the bookkeeping.
struct OwnerContext {
    Oid save_user;
    int save_sec;
    int guc_nest;
};
void enter_owner_context(OwnerContext *ctx);
void leave_owner_context(const OwnerContext *ctx);

// Qualified, quoted name of one of the extension's tables, e.g. public.safe_column_job_store, for use
// in the current (sub)transaction only: the schema is found through pg_extension.extnamespace and its
// row stays locked until the (sub)transaction ends, so that the name cannot be made to mean another
// schema's table meanwhile (see locked_extension_schema in jobs.cpp). Never cache the result longer.
// Raises an error when the extension is not installed in this database. Call within SPI.
char *extension_table(const char *name);

// Whether the extension is installed in the current database (catalog lookup, no SPI).
bool extension_in_database();

// The same without the lock, for what runs with the caller's own rights only (safe_column_wait reading
// the public views): the caller gains nothing it could not do by itself, and needs no right to lock.
char *extension_object_unlocked(const char *name);

struct JobRecord {
    int64 job_id;
    char *state;
    char *column_type;
    char *default_expr;   // NULL when none
    char *backfill_expr;  // NULL when none
    bool not_null;
};

// The newest job that added column attnum of relid; false when there is none.
bool find_column_job(Oid relid, AttrNumber attnum, JobRecord *out);

// A job state in which a worker runs the job or will (queued, backfilling, validating).
bool is_running_state(const char *state);

// The lock of a job's step, held until the current transaction ends. The worker takes it at the start
// of each step, before it reads the job; safe_column_pause and safe_column_cancel take it before they
// change the job. A lock queue is first come, first served: a pause issued during a step waits for
// that step, and the worker's next step waits for the pause, which it then sees (without it the next
// step could read the job before the pause's update, and run a whole VALIDATE before stopping); the
// same for a cancel. An advisory lock of the database with a class of its own (pg_locks.objsubid
// 21315), which no pg_advisory_* call can take.
void lock_job_step(int64 job_id);

struct NewJob {
    Oid relid;
    AttrNumber attnum;        // InvalidAttrNumber (with column_name and column_type NULL): an index job
    const char *column_name;
    const char *column_type;
    const char *kind;         // NULL: the table's default ('add_column'); 'create_index' (0.4)
    const char *default_expr;
    const char *backfill_expr;
    bool not_null;
    const char *state;
    bool finished;  // sets started_at and finished_at to now
    int lock_attempts;
    double lock_wait_ms;
    // backfill jobs
    const char *phase;            // "done" for catalog-only jobs
    const char *fill_expr;        // NULL for catalog-only jobs
    bool new_rows_get_value;
    List *parts;                  // relids of the tables to fill (plain table, or each partition/child)
    List *staged;                 // the column's staged constraints (StagedConstraint *), NIL when none
};
int64 insert_job(const NewJob *job);

// NOTIFY safe_column with the job's state as JSON (delivered when the transaction commits).
// job_store: the qualified job table (extension_table("safe_column_job_store")). SPI connected.
void notify_job(int64 job_id, const char *job_store);

}  // namespace sc::pg
