// SQL text the extension generates: statements it runs and statements it suggests in hints.
//
// Every identifier passed in must already be quoted by the caller (the PostgreSQL layer uses
// quote_identifier(), which knows the keyword list); expressions are passed through as the user
// wrote them, wrapped in parentheses so that an expression is always one a_expr.
#pragma once

#include <optional>
#include <string>

namespace sc::sql {

struct AddColumnSpec {
    std::string table;    // qualified and quoted, e.g. public."Users"
    std::string column;   // quoted
    std::string type;     // canonical type text, e.g. character varying(20)
    std::optional<std::string> default_expr;
    bool not_null = false;
};

// ALTER TABLE <table> ADD COLUMN <column> <type> [DEFAULT (<expr>)] [NOT NULL]
std::string add_column(const AddColumnSpec &spec);

// ALTER TABLE <table> ADD COLUMN <column> <type>[, ALTER COLUMN <column> SET DEFAULT (<expr>)]
// The first step of the staged addition: nullable, no default for existing rows (no rewrite), the
// default for rows inserted from now on.
std::string add_column_staged(const std::string &table, const std::string &column, const std::string &type,
                              const std::optional<std::string> &default_expr);

// One backfill batch over the heap blocks of one table (ONLY: partitions and inheritance children are
// their own parts) from the TID $1 ('(first_block,0)') to the TID $2 ('(end_block,0)'), excluded: a TID
// Range Scan that fills rows whose column is still NULL, and never overwrites a value the application
// wrote (the IS NULL is rechecked on a row the application updated meanwhile). Row locks held by the
// application are waited for, as long as the batch's lock_timeout allows: the fast path. The range is
// a parameter so that one prepared plan serves every batch of the job.
std::string fill_batch_direct(const std::string &table, const std::string &column, const std::string &expr);

// The same batch, for a range where the direct one hit a row the application keeps locked: it first
// locks the rows it can, FOR UPDATE SKIP LOCKED, and fills only those (the sweep comes back for the
// others), so it never waits on the application. It costs a second scan and a WAL record per row lock.
std::string fill_batch(const std::string &table, const std::string &column, const std::string &expr);

// Whether any row of the table (ONLY) still has the column NULL.
std::string nulls_left(const std::string &table, const std::string &column);

std::string add_not_null_check(const std::string &table, const std::string &constraint, const std::string &column);
// ALTER TABLE <table> ADD CONSTRAINT <constraint> NOT NULL <column> NOT VALID (PostgreSQL 18 and later)
std::string add_not_null_not_valid(const std::string &table, const std::string &constraint, const std::string &column);
std::string validate_constraint(const std::string &table, const std::string &constraint);
// A column's inline constraint, staged: ALTER TABLE <table> ADD CONSTRAINT <constraint> CHECK (<expr>)
// [NO INHERIT] NOT VALID, or ... FOREIGN KEY (<column>) REFERENCES <target> NOT VALID (target as written:
// "users (id) ON DELETE CASCADE DEFERRABLE"). Tried once at creation; the worker adds what PostgreSQL
// printed of it then.
std::string check_not_valid(const std::string &table, const std::string &constraint, const std::string &expr,
                            bool no_inherit = false);
std::string foreign_key_not_valid(const std::string &table, const std::string &constraint, const std::string &column,
                                  const std::string &target);
// ALTER TABLE <table> ADD CONSTRAINT <constraint> <definition> (pg_get_constraintdef's text).
std::string add_constraint(const std::string &table, const std::string &constraint, const std::string &definition);
std::string set_not_null(const std::string &table, const std::string &column);
std::string drop_constraint(const std::string &table, const std::string &constraint);
std::string drop_column(const std::string &table, const std::string &column);

// A column's own UNIQUE / PRIMARY KEY, staged: the index built concurrently, then attached as the
// constraint. index: quoted, unqualified (it goes into the table's schema); table: qualified and quoted;
// column: quoted. nulls_not_distinct: UNIQUE NULLS NOT DISTINCT (15 and later).
std::string create_unique_index_concurrently(const std::string &index, const std::string &table,
                                             const std::string &column, bool nulls_not_distinct);
// "UNIQUE USING INDEX i" / "PRIMARY KEY USING INDEX i" with " DEFERRABLE" [" INITIALLY DEFERRED"]:
// the definition ADD CONSTRAINT name takes.
std::string index_constraint_definition(bool primary_key, const std::string &index, bool deferrable,
                                        bool initially_deferred);
// index: qualified and quoted.
std::string drop_index_concurrently(const std::string &index);

// An identity column staged: its staging sequence's default goes, GENERATED ... AS IDENTITY comes
// (identity: "GENERATED BY DEFAULT AS IDENTITY" or "GENERATED ALWAYS AS IDENTITY"), the staging sequence
// (qualified, quoted) is dropped.
std::string drop_default(const std::string &table, const std::string &column);
std::string add_identity(const std::string &table, const std::string &column, const std::string &identity);
std::string drop_sequence(const std::string &sequence);

// A string literal in standard SQL syntax ('it''s'), safe with standard_conforming_strings on or off
// because a backslash switches to the E'' form.
std::string literal(const std::string &value);

}  // namespace sc::sql
