// The background workers: a launcher (with shared_preload_libraries) and one worker per database
// that has unfinished jobs.
#pragma once

#include "pg/pg_includes.hpp"

namespace sc::pg {

// GUCs of the backfill (module.cpp).
extern bool throttle_enabled;       // safe_column.throttle
extern int batch_target_ms;         // safe_column.batch_target
extern double batch_sleep_ratio;    // safe_column.batch_sleep_ratio
extern int max_wal_rate_kb;         // safe_column.max_wal_rate (kB per second, 0: no limit)
extern int batch_timeout_ms;        // safe_column.batch_timeout (0: none)
extern int max_retries;             // safe_column.max_retries
extern char *debug_inject_fault;    // safe_column.debug_inject_fault (tests only)

// Runs a background worker's main loop; a C++ exception that escapes it ends the worker with FATAL.
void worker_guard(const char *who, void (*loop)());

// Register the launcher (from _PG_init while preloading).
void register_launcher();

// Ask for the database's worker to be started when the current transaction commits (nothing happens
// if it rolls back). Used when a job is queued or resumed.
void start_worker_at_commit();
// Cancel the statement of worker pid (SIGINT) once the current transaction commits: a job cancelled
// while its worker runs one long statement (a concurrent index build) is not left to wait for its end.
void interrupt_worker_at_commit(int pid);

// Register the transaction callbacks behind start_worker_at_commit (from _PG_init).
void register_xact_callbacks();

// Start the worker of a database now. False when no background worker slot was free.
bool start_db_worker(Oid dboid);

}  // namespace sc::pg
