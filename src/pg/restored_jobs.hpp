// Job rows restored from a dump (the job tables are dumped with the database): a BEFORE INSERT
// trigger, safe_column_restored_row, makes what they say true of the restored database, and pauses an
// unfinished job with the reason (restored_jobs.cpp).
#pragma once

#include "pg/pg_includes.hpp"

namespace sc::pg {

// safe_add_column writes its own job rows in this transaction: the trigger leaves them as they are.
void job_rows_written_here();

}  // namespace sc::pg
