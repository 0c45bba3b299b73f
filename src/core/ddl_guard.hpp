// The decision table of the ProcessUtility hook: what an ALTER TABLE statement would do as sent, and
// what safe_column does with it in each mode (safe_column.mode).
//
// The PostgreSQL layer gathers the facts with the server's own predicates (the default cooked and
// planned, contain_volatile_functions, DomainHasConstraints, AlterTableGetLockLevel, the table's size
// under the lock) and fills Statement; this file only decides, explains and writes the safe SQL.
// Identifiers arrive already quoted, expressions as the server deparsed them or the user wrote them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sc::ddl {

enum class Mode { off, warn, guard, stage };

// The PostgreSQL lock modes, numbered as in storage/lockdefs.h (1 AccessShare .. 8 AccessExclusive).
std::string lock_mode_name(int lockmode);  // "ACCESS EXCLUSIVE"

enum class Kind {
    add_column,
    set_not_null,
    add_check,
    add_foreign_key,
    add_unique,
    add_primary_key,
    alter_type,  // ALTER COLUMN ... [SET DATA] TYPE
    set_tablespace,   // SET TABLESPACE to another tablespace: copies the table's files
    set_persistence,  // SET LOGGED / SET UNLOGGED that changes it: rewrites the table
    add_exclusion,    // ADD CONSTRAINT ... EXCLUDE: builds its index under the lock
    other,  // any other subcommand: not classified, run as sent (queue-safe in guard and stage modes)
};

struct Command {
    Kind kind = Kind::other;
    int lockmode = 8;  // what PostgreSQL takes for this subcommand (AlterTableGetLockLevel)

    // add_column, set_not_null: the column (quoted); add_column: its type as the server prints it
    std::string column;
    std::string column_name;  // unquoted, for safe_add_column's name argument
    std::string type;
    std::optional<std::string> default_expr;  // deparsed; unset when none (DEFAULT NULL is none)
    // add_column, safe_column_plan only: the forecast of the backfill (backfill_forecast.hpp), if any
    std::string forecast;
    std::optional<double> forecast_seconds;
    bool default_volatile = false;
    bool not_null = false;
    bool serial = false;
    bool identity = false;
    bool identity_always = false;   // GENERATED ALWAYS (else BY DEFAULT)
    bool identity_options = false;  // ... AS IDENTITY (sequence options)
    bool generated = false;
    bool domain_constraints = false;
    bool if_not_exists = false;
    bool column_exists = false;           // ADD COLUMN IF NOT EXISTS of an existing column: a no-op
    std::optional<std::string> check;     // inline CHECK: its expression as written
    bool unique = false;                  // inline UNIQUE
    bool primary_key = false;             // inline PRIMARY KEY
    std::optional<std::string> references;  // inline REFERENCES: "other_table (col)" ...
    std::string check_name, unique_name, fk_name;  // quoted names for the inline constraints' safe steps
    bool check_named = false, fk_named = false;    // written after CONSTRAINT (safe_add_column takes no name)
    bool unique_named = false;
    bool index_options = false;  // inline UNIQUE / PRIMARY KEY with INCLUDE, WITH (...) or USING INDEX TABLESPACE
    std::string unique_attributes;  // inline or table UNIQUE / PRIMARY KEY: " DEFERRABLE" [" INITIALLY DEFERRED"]
    std::string sequence;  // serial, identity: a free name for the sequence, qualified and quoted

    // alter_type: column, column_name, type (the new one, as the server prints it)
    bool type_rewrite = false;                // PostgreSQL converts every stored value (its own test)
    std::optional<std::string> using_expr;    // the USING expression as written
    std::string new_column;                   // quoted free name for the column of the new type
    std::string new_column_name;              // unquoted

    // set_tablespace: the tablespace (quoted); set_persistence: "LOGGED" or "UNLOGGED"
    std::string target;

    // set_not_null
    bool already_not_null = false;
    bool implied_by_check = false;  // a valid CHECK (col IS NOT NULL) lets SET NOT NULL skip its scan
    bool as_constraint = false;     // set_not_null written ADD CONSTRAINT name NOT NULL column [NOT VALID] (18+)

    // add_check, add_foreign_key, add_unique, add_primary_key
    std::string constraint;        // quoted name: as given, or the one PostgreSQL would choose
    bool not_valid = false;
    bool using_index = false;      // ADD ... USING INDEX
    std::string expr;              // add_check: the expression as written
    std::string keys;              // add_unique, add_primary_key, add_foreign_key: "(a, b)" quoted
    std::string fk_target;         // add_foreign_key: "other_table (id)" [ON DELETE ...] as written
};

struct Statement {
    std::string table;          // qualified and quoted, for SQL text
    std::string table_name;     // as messages show it
    bool has_rows = true;       // false when the table is known to be empty
    std::int64_t table_bytes = 0;  // heap and TOAST, all partitions
    std::int64_t index_bytes = 0;
    // The server adds NOT NULL ... NOT VALID and validates it later (PostgreSQL 18 and later): the safe
    // way to NOT NULL is that, not a helper CHECK and SET NOT NULL.
    bool not_null_not_valid = false;
    bool partitioned = false;  // a partitioned table (no CREATE INDEX CONCURRENTLY on it)
    std::vector<Command> cmds;
};

// What a subcommand does to the table as sent.
struct Effect {
    int lockmode = 8;
    bool rewrite = false;
    bool scan = false;
    bool index_build = false;
    bool fails = false;   // the scan ends in an error (NOT NULL without default on a non-empty table)
    bool backfill = false;  // safe_add_column would fill existing rows in the background
    double seconds = 0;   // estimated time under the lock
    std::string what;     // one sentence, e.g. "ADD COLUMN token: its volatile default rewrites ..."
    bool heavy() const { return rewrite || scan || index_build || fails; }
};

Effect assess(const Statement &stmt, const Command &cmd);

// safe_column_plan(): one row per step.
struct PlanStep {
    std::string approach;  // "as sent" or "safe_column"
    std::string sql;
    int lockmode = 0;       // 0: no table lock that blocks the application (e.g. background batches)
    bool rewrite = false;
    bool scan = false;
    bool index_build = false;
    std::optional<double> seconds;
    std::string note;
};

// The safe way: statements to run instead, in order, each in its own transaction (steps with an
// empty sql are background work). For a catalog-only subcommand: the statement itself, queue-safe.
// `advice` when there is no exact safe equivalent.
struct SafeWay {
    std::vector<PlanStep> steps;
    std::string advice;
    bool stageable = false;  // safe_add_column does it all: stage mode turns it into a job
};

SafeWay safe_way(const Statement &stmt, const Command &cmd);

enum class Action {
    run,          // run as sent (mode off, or not an ALTER TABLE we look at)
    run_guarded,  // take the statement's locks queue-safely, then run it as sent
    warn,         // WARNING, then run as sent
    refuse,       // ERROR with detail and hint
    stage,        // safe_add_column for every ADD COLUMN instead of the statement
};

struct Verdict {
    Action action = Action::run;
    bool below_min_size = false;  // heavy, but the table is smaller than guard_min_size
    std::string message;  // refuse: the primary message; warn: the warning
    std::string detail;
    std::string hint;
};

// min_bytes: safe_column.guard_min_size. Tables smaller than that are altered as sent (queue-safe
// locking only) in guard and stage modes: their rewrite or scan is short.
Verdict decide(const Statement &stmt, Mode mode, std::int64_t min_bytes);

std::vector<PlanStep> plan(const Statement &stmt, const std::string &sql_as_sent);

// Estimated seconds to build one index over a table of table_bytes (the reference machine's rate).
double index_build_seconds(std::int64_t table_bytes);

// The steps' statements, each ending in ';', separated by spaces (steps without sql left out).
std::string join_sql(const std::vector<PlanStep> &steps);

// The text with its first letter upper-case (a HINT that starts with a lower-case phrase).
std::string capitalized(std::string s);

// Human-readable sizes and durations for messages: "270 MB", "about 4 s".
std::string pretty_bytes(std::int64_t bytes);
std::string pretty_seconds(double seconds);

// The text of the parenthesized expression that starts at or after `from` in `sql` (what is between
// the first '(' and its matching ')', skipping quoted strings, quoted identifiers, dollar quotes and
// comments). Empty when there is none.
std::string parenthesized_after(const std::string &sql, std::size_t from);

// The position after the comment that starts at i ("--" to the end of the line, or "/*" to its
// matching "*/": PostgreSQL's block comments nest).
std::size_t skip_comment(const std::string &text, std::size_t i);

// Where the keyword (upper case, e.g. "COLLATE") first stands as a word of its own in text, outside
// quoted strings, quoted identifiers and comments; npos when it does not. For column_type's COLLATE clause.
std::size_t keyword_at(const std::string &text, const std::string &keyword);

}  // namespace sc::ddl
