// The job runner: runs one job, step by step, until it is complete, paused, cancelled or failed.
#pragma once

#include "pg/pg_includes.hpp"

namespace sc::pg {

// Run one job of this database (the worker's current database), each step its own transaction.
void run_job(int64 job_id);

}  // namespace sc::pg
