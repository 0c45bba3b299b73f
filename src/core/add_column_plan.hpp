// The decision table of safe_add_column: which path a requested column takes.
//
// The facts come from the server's own predicates (the PostgreSQL layer cooks the default against the
// column type and asks contain_volatile_functions and DomainHasConstraints); this table only decides.
#pragma once

#include <string>

namespace sc {

struct AddColumnFacts {
    bool has_default = false;             // a default for new rows was given
    bool default_volatile = false;        // the cooked default contains volatile functions
    bool domain_has_constraints = false;  // the type is a domain with constraints
    bool not_null = false;
    bool has_backfill_expr = false;       // existing rows get another expression than the default
    bool table_has_rows = true;           // false only when the table is known to be empty
};

enum class AddColumnPath {
    catalog_only,  // one ALTER TABLE that changes the catalog only
    backfill,      // add nullable, backfill existing rows in batches, then enforce NOT NULL
    refuse,        // no safe way: an error with the reason
};

struct AddColumnDecision {
    AddColumnPath path = AddColumnPath::refuse;
    std::string sqlstate;  // set when refused
    std::string reason;    // one sentence: why this path
    std::string hint;      // set when refused: what to do instead
};

AddColumnDecision decide_add_column(const AddColumnFacts &facts);

}  // namespace sc
