#include "add_column_plan.hpp"

#include "error.hpp"

namespace sc {

AddColumnDecision decide_add_column(const AddColumnFacts &f) {
    AddColumnDecision d;
    if (f.domain_has_constraints) {
        d.path = AddColumnPath::refuse;
        d.sqlstate = sqlstate::feature_not_supported;
        d.reason = "Adding a column whose type is a domain with constraints rewrites the whole table under "
                   "ACCESS EXCLUSIVE lock, whatever the default.";
        d.hint = "Add the column with the domain's base type, then add the domain's conditions as a CHECK "
                 "constraint NOT VALID and validate it with ALTER TABLE ... VALIDATE CONSTRAINT.";
        return d;
    }
    if (f.has_backfill_expr) {
        d.path = AddColumnPath::backfill;
        d.reason = "Existing rows are filled from the backfill expression.";
        return d;
    }
    if (f.has_default && f.default_volatile) {
        d.path = AddColumnPath::backfill;
        d.reason = "The default is volatile: ALTER TABLE would compute it for every row in a table rewrite "
                   "under ACCESS EXCLUSIVE lock.";
        return d;
    }
    if (f.not_null && !f.has_default && f.table_has_rows) {
        d.path = AddColumnPath::refuse;
        d.sqlstate = sqlstate::not_null_violation;
        d.reason = "The table has rows, and without a default or a backfill expression they would be NULL in "
                   "a NOT NULL column.";
        d.hint = "Give default_expr for new and existing rows, or backfill_expr for existing rows.";
        return d;
    }
    d.path = AddColumnPath::catalog_only;
    if (f.has_default)
        d.reason = "The default is not volatile: PostgreSQL stores it once in the catalog for existing rows.";
    else if (f.not_null)
        d.reason = "The table is empty: NOT NULL is checked without a scan of any rows.";
    else
        d.reason = "A nullable column without a default changes the catalog only.";
    return d;
}

}  // namespace sc
