// The facts the hook gathers about an ALTER TABLE, with the server's own predicates (the default
// cooked and planned as ALTER TABLE will, contain_volatile_functions, DomainHasConstraints,
// AlterTableGetLockLevel, the CHECK constraints that let SET NOT NULL skip its scan, the table's size),
// in palloc'd C structs; and the pure core's decision and plan on them (src/core/ddl_guard), whose C++
// objects live only inside core_decide and core_plan. Used by the hook (hook.cpp) and by
// safe_column_plan (plan_function.cpp).
#pragma once

#include <string>
#include <vector>

#include "core/ddl_guard.hpp"
#include "pg/pg_includes.hpp"

extern "C" {
#include "access/attnum.h"
#include "nodes/parsenodes.h"
}

namespace sc::pg {

struct CCommand {
    sc::ddl::Kind kind;
    int lockmode;
    const char *column;       // quoted
    const char *column_name;  // raw
    const char *type;
    const char *default_expr;            // deparsed for people (NULL: none)
    const char *default_expr_qualified;  // deparsed schema-qualified, for safe_add_column
    bool default_volatile, not_null, serial, identity, generated, domain_constraints;
    bool if_not_exists, column_exists;
    const char *check;
    bool unique, primary_key;
    const char *references;
    const char *check_name, *unique_name, *fk_name, *sequence;
    const char *unique_attributes;  // " DEFERRABLE" [" INITIALLY DEFERRED"] of a UNIQUE / PRIMARY KEY, or NULL
    const char *check_conname, *fk_conname;  // the names written with CONSTRAINT (raw; NULL: none)
    const char *unique_conname;              // UNIQUE / PRIMARY KEY: the name written with CONSTRAINT (raw)
    bool index_options;       // UNIQUE / PRIMARY KEY with INCLUDE, WITH (...) or USING INDEX TABLESPACE
    bool nulls_not_distinct;  // UNIQUE NULLS NOT DISTINCT
    bool deferrable, initdeferred;  // of the UNIQUE / PRIMARY KEY
    bool identity_always, identity_options;  // GENERATED ALWAYS AS IDENTITY; ... AS IDENTITY (options)
    bool check_no_inherit;                   // CHECK (...) NO INHERIT
    bool already_not_null, implied_by_check;
    bool as_constraint;  // set_not_null written ADD CONSTRAINT name NOT NULL column (18 and later)
    const char *constraint;
    bool not_valid, using_index;
    const char *expr, *keys, *fk_target;
    AttrNumber attnum;  // set_not_null
    bool type_rewrite;  // alter_type
    const char *using_expr, *new_column, *new_column_name;
    const char *target;  // set_tablespace, set_persistence
    Oid typid;              // add_column: the new column's type
    const char *forecast;   // add_column, safe_column_plan only: the backfill's forecast (NULL: none)
    double forecast_seconds;
};

struct CStatement {
    Oid relid;
    bool inh;
    const char *table;       // qualified and quoted
    const char *table_name;  // "name", for messages
    bool has_rows;
    bool partitioned;
    int64 table_bytes, index_bytes;
    int ncmds;
    CCommand *cmds;
};

struct CVerdict {
    sc::ddl::Action action;
    bool below_min_size;
    char *message, *detail, *hint;
};

struct CPlanStep {
    char *approach, *sql, *note, *lock;
    int lockmode;
    bool rewrite, scan, index_build, has_seconds;
    double seconds;
};

// The statement's table (NULL: not an ordinary or partitioned table, or missing with missing_ok).
CStatement *gather_statement(AlterTableStmt *ats, bool missing_ok);
// Each subcommand's facts; false when the statement is not one the core classifies (let it run).
// locked: the statement's lock is held (the facts are current). strict: safe_column_plan's errors.
bool gather_commands(CStatement *s, AlterTableStmt *ats, const char *query, bool locked, bool strict = false);
// The table's and its indexes' sizes (all partitions).
void measure(CStatement *s, bool locked);
// Whether the decision depends on the table having rows, and whether it has any.
bool needs_row_check(const CStatement *s);
// locked: the caller holds the statement's lock on the table and its partitions.
bool table_has_rows(const CStatement *s, bool locked);

CVerdict core_decide(const CStatement *s, sc::ddl::Mode mode);
// The core's verdict and plan steps in palloc'd C structs (shared with index statements).
CVerdict to_c_verdict(const sc::ddl::Verdict &v);
int to_c_steps(const std::vector<sc::ddl::PlanStep> &steps, CPlanStep **out);
int core_plan(const CStatement *s, const char *sql, CPlanStep **out);

// A std::string's text in palloc'd memory (through pg_call: an out-of-memory ERROR becomes a PgError).
char *pg_strdup_cpp(const std::string &s);

}  // namespace sc::pg
