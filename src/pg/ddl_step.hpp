// The DDL steps of the NOT NULL sequence (add_check, validate, set_not_null), each with the queue-safe
// lock and as the table's owner, and the removal of the helper CHECK after a failure.
#pragma once

#include "pg/job_row.hpp"

namespace sc::pg {

// One DDL step of the job's current phase (inside the step's transaction).
// Returns whether the job's constraint is PostgreSQL's own NOT NULL (18 and later), which the
// validate step leaves enforced (no set_not_null step after it).
bool run_ddl_step(Job *job, const char *column);

// A NOT NULL job that failed after adding its CHECK (col IS NOT NULL) NOT VALID must not leave it in
// place (see ddl_step.cpp). In a transaction of its own; a failure here is a WARNING.
void remove_helper_after_failure(Job *job);

}  // namespace sc::pg
