// CREATE INDEX in stage mode (issue 21): the statement returns at once, and a job builds the index
// CONCURRENTLY in the worker after commit (even inside the migration's transaction block, where
// CONCURRENTLY itself cannot run). The job's only phase is build_index (index_build.cpp, shared with a
// column's staged UNIQUE / PRIMARY KEY); it has no column.
#pragma once

#include "pg/index_hook.hpp"

namespace sc::pg {

// The job for a CREATE INDEX that index_stageable() accepts (named, not partitioned), on relid owned
// by the caller; 0 when IF NOT EXISTS finds the name taken (PostgreSQL's NOTICE). PostgreSQL's own
// error when the name is taken; the worker runs the statement as sent with CONCURRENTLY, as the
// table's owner, under the caller's search_path. In the caller's transaction.
int64 stage_create_index(const CIndexStatement *s, IndexStmt *is);

}  // namespace sc::pg
