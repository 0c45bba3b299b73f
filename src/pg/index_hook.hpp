// CREATE INDEX, DROP INDEX and REINDEX without CONCURRENTLY, in the ProcessUtility hook and in
// safe_column_plan: the facts (the table, its size, whether a unique index could back a constraint),
// the pure core's decision (src/core/index_guard), and the queue-safe locks. See index_hook.cpp.
#pragma once

#include "core/index_guard.hpp"
#include "pg/hook_facts.hpp"
#include "pg/pg_includes.hpp"

namespace sc::pg {

struct CIndexStatement {
    sc::ddl::IndexVerb verb;
    const char *sql;         // the statement as sent
    const char *table;       // qualified and quoted
    const char *table_name;  // "name", for messages
    const char *index;       // quoted; "" when CREATE INDEX leaves the name to the server
    bool concurrent, unique, constraint_capable, partitioned, only_parent, whole_table;
    int index_count;
    int64 table_bytes, index_bytes;
    Oid relid;              // the table (DROP INDEX: the first index's table)
    bool inh;               // the statement reaches the table's partitions
    List *also;             // DROP INDEX: the other indexes' tables; REINDEX: the indexes it rebuilds
};

// Whether the hook looks at this utility statement (a cheap test on the node alone).
bool is_index_statement(Node *stmt);

// The facts that need no lock. NULL: not a statement on an ordinary or partitioned table (or, with
// missing_ok, a relation that does not exist: PostgreSQL reports it).
CIndexStatement *gather_index_statement(Node *stmt, const char *sql, bool missing_ok);

// The table's size without waiting for a lock (exact when an ACCESS SHARE lock is free at once).
void measure_index_statement(CIndexStatement *s);

CVerdict core_decide_index(const CIndexStatement *s, sc::ddl::Mode mode);
int core_plan_index(const CIndexStatement *s, CPlanStep **out);

// The hook: run as sent, warn, take the locks queue-safely, or refuse (with an ERROR).
// True when stage mode turned the statement into a job (a CREATE INDEX built CONCURRENTLY by the
// worker): PostgreSQL must not run it.
bool guard_index_statement(Node *stmt, const char *sql, sc::ddl::Mode mode);

}  // namespace sc::pg
