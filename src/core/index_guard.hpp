// The decision table of the ProcessUtility hook for index statements: CREATE INDEX, DROP INDEX and
// REINDEX sent without CONCURRENTLY. What each would do as sent, and what safe_column does with it in
// each mode (safe_column.mode), with the same verdicts and plan steps as for ALTER TABLE (ddl_guard).
//
// The PostgreSQL layer (src/pg/index_hook.cpp) gathers the facts (the table, its size under the lock,
// whether the index could back a constraint) and fills IndexStatement; this file only decides,
// explains and writes the safe SQL. Identifiers arrive already quoted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ddl_guard.hpp"

namespace sc::ddl {

enum class IndexVerb { create, drop, reindex };

struct IndexStatement {
    IndexVerb verb = IndexVerb::create;
    std::string sql;         // the statement as sent (one statement)
    std::string table;       // qualified and quoted
    std::string table_name;  // "name", as messages show it
    std::string index;       // quoted name of the index (create: as given, empty when the server chooses)
    bool concurrent = false;
    bool unique = false;             // create: CREATE UNIQUE INDEX
    bool constraint_capable = false; // create: a unique index ADD CONSTRAINT ... USING INDEX accepts
    bool partitioned = false;        // the table is partitioned (CONCURRENTLY builds no index on it)
    bool only_parent = false;        // create: ON ONLY a partitioned table (an invalid index, no build)
    bool whole_table = false;        // reindex: REINDEX TABLE (every index) rather than REINDEX INDEX
    int index_count = 1;             // reindex: how many indexes it rebuilds
    std::int64_t table_bytes = 0;    // heap and TOAST, all partitions
    std::int64_t index_bytes = 0;    // reindex: the indexes it rebuilds
};

// The lock the statement takes on its table (numbered as in storage/lockdefs.h).
int index_lockmode(const IndexStatement &s);

// What the statement does to the table as sent (the same Effect as an ALTER TABLE subcommand's).
Effect assess_index(const IndexStatement &s);

// Stage mode turns it into a job whose worker builds the index CONCURRENTLY: a CREATE INDEX that names
// its index, on a table that is not partitioned.
bool index_stageable(const IndexStatement &s);

// min_bytes: safe_column.guard_min_size. run_guarded: take the lock queue-safely, then run as sent;
// stage (stage mode, index_stageable, a large table): a job builds it.
Verdict decide_index(const IndexStatement &s, Mode mode, std::int64_t min_bytes);

// safe_column_plan(): the statement as sent, then the safe way.
std::vector<PlanStep> plan_index(const IndexStatement &s);

// The statement with CONCURRENTLY where PostgreSQL's grammar takes it: after CREATE [UNIQUE] INDEX,
// DROP INDEX, REINDEX [(options)] {INDEX | TABLE}; comments and whitespace before it are skipped.
// Empty when the statement does not start that way.
std::string with_concurrently(const std::string &sql);

}  // namespace sc::ddl
