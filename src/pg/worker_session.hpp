// How the background worker runs SQL: its transactions, SPI helpers, and the way it runs the job's
// own SQL (as the table's owner, security-restricted, settings restored with abort semantics, under
// safe_column.batch_timeout). Used by the job runner and its steps (job_runner.cpp, batch.cpp,
// ddl_step.cpp, job_row.cpp); C-like: no C++ object with a destructor lives across these calls.
#pragma once

#include "pg/pg_includes.hpp"

extern "C" {
#include "access/attnum.h"
#include "portability/instr_time.h"
}

namespace sc::pg {

instr_time now_instr();
double ms_since(instr_time start);  // milliseconds since start (from now_instr())

// One transaction of the worker, SPI connected, a snapshot pushed, search_path pinned in a GUC nest
// level that commit_txn closes with abort semantics. commit_without_flush(): this transaction's commit
// need not wait for its WAL to be flushed (a batch: lost in a crash, it is simply done again).
void begin_txn(const char *activity);
void commit_without_flush();
void commit_txn();

void spi_exec(const char *sql, int expected);
void spi_exec_args(const char *sql, int nargs, Oid *types, Datum *values, int expected);

char *live_attname(Oid relid, AttrNumber attnum);  // NULL once the column is dropped
char *qualified_name(Oid relid);                   // NULL once the table is gone

// Running the job's SQL on a table as its owner (see as_table_owner in worker_session.cpp).
struct RoleSwitch {
    Oid save_user;
    int save_sec;
    int nest;
};
Oid acting_role(Oid creator, Oid relid);  // the table's owner: the role the job's SQL runs as
void as_table_owner(Oid creator, Oid relid, RoleSwitch *rs);
void back_from_table_owner(const RoleSwitch *rs);
int run_user_sql(const char *sql, bool read_only, int nargs, Oid *types, Datum *values);
bool user_sql_timed_out();  // whether the last error of run_user_sql was safe_column.batch_timeout
void clear_user_sql_timed_out();
void set_for_batch(const char *name, const char *value);  // within a GUC nest level the caller closes

// A worker whose postmaster died exits at once (proc_exit(1)), as PostgreSQL's own processes do: while
// it runs, the server cannot be restarted (its shared memory is still attached). A nap notices by
// itself (WL_EXIT_ON_PM_DEATH); a worker that never naps (safe_column.throttle = off) asks before every
// step, around each VACUUM and for every row it probes.
void exit_if_postmaster_died();

// Sleep on the latch, answering SIGTERM and postmaster death; false when a reload cut it short.
bool nap(long ms);

// safe_column.debug_inject_fault: throws std::bad_alloc when it names point (call inside cpp_entry).
void throw_injected_fault(const char *point);

}  // namespace sc::pg
