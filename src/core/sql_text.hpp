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

// A string literal in standard SQL syntax ('it''s'), safe with standard_conforming_strings on or off
// because a backslash switches to the E'' form.
std::string literal(const std::string &value);

}  // namespace sc::sql
