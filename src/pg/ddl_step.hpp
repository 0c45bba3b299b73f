// The DDL steps of the NOT NULL sequence (add_check, validate, set_not_null) and of the column's staged
// CHECK / FOREIGN KEY constraints (add_check, validate), each with the queue-safe lock and as the table's
// owner, and the removal of the constraints not yet valid after a failure.
#pragma once

#include "pg/job_row.hpp"

namespace sc::pg {

struct DdlStepResult {
    bool native_not_null;     // the job's constraint is PostgreSQL's own NOT NULL (18 and later), which
                              // the validate step leaves enforced (no set_not_null step after it)
    bool staged_constraints;  // the job has constraints of the column's own to add and validate
};

// One DDL step of the job's current phase (inside the step's transaction).
DdlStepResult run_ddl_step(Job *job, const char *column);

// A job that failed after adding its CHECK (col IS NOT NULL) NOT VALID, or a staged constraint NOT
// VALID, must not leave it in place (see ddl_step.cpp). In a transaction of its own; a failure here is
// a WARNING.
void remove_helper_after_failure(Job *job);

}  // namespace sc::pg
