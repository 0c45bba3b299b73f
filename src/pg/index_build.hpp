// The staged UNIQUE / PRIMARY KEY index of a job (phase build_index): CREATE UNIQUE INDEX CONCURRENTLY
// run by the worker the way a client's statement runs, and its removal when the job ends without it.
//
// CREATE / DROP INDEX CONCURRENTLY refuse to run inside a transaction block, a function or SPI: each
// commits and starts transactions of its own. The worker runs them as exec_simple_query runs a client's
// statement: no transaction open at the call, the parse tree in memory that outlives those
// transactions, a snapshot pushed, PROCESS_UTILITY_TOPLEVEL; as the table's owner, security-restricted
// (the role is switched by hand: a GUC nest level would not survive the statement's own commits).
// Such a build cannot be throttled from inside: it reads the table at full speed, with the lock that
// lets reads and writes go on (SHARE UPDATE EXCLUSIVE), and it waits for transactions older than it.
#pragma once

#include "pg/job_row.hpp"

extern "C" {
#include "utils/palloc.h"
}

namespace sc::pg {

struct StagedConstraint;

// build_index, with no transaction open: a leftover of an earlier attempt that is not valid (a crash
// or a cancel mid-build) is dropped concurrently first; the index is built unless a valid one of that
// name on the table exists already (built before a crash that lost the phase change).
// search_path: a staged CREATE INDEX runs its statement under its creator's (NULL: the worker's own).
void build_staged_index(const Job *job, const StagedConstraint *ix, const char *search_path = nullptr);

// A staged CREATE INDEX (a job without a column): the search_path it was sent under, in cxt. Its
// creator must still have the rights of the table's owner, as whom the statement runs (an ERROR
// otherwise: another owner's index expressions are not run for the one who wrote them). In a
// transaction, SPI connected.
char *index_job_search_path(const Job *job, MemoryContext cxt);

// A job that ended failed or cancelled leaves no index of its own behind: its staged index, built or
// half-built and not attached as a constraint, is dropped concurrently. No transaction open; a failure
// is a WARNING (safe_column_cancel drops it then).
void drop_unattached_staged_index(const Job *job);

// The staged index `name` of relid, qualified and quoted, when it exists and is not attached as a
// constraint (valid or not); else NULL. In a transaction.
char *unattached_staged_index(Oid relid, const char *name);

}  // namespace sc::pg
