#include "sql_text.hpp"

#include <boost/format.hpp>

namespace sc::sql {

std::string add_column(const AddColumnSpec &spec) {
    std::string text = (boost::format("ALTER TABLE %1% ADD COLUMN %2% %3%") % spec.table % spec.column % spec.type).str();
    if (spec.default_expr)
        text += (boost::format(" DEFAULT (%1%)") % *spec.default_expr).str();
    if (spec.not_null)
        text += " NOT NULL";
    return text;
}

std::string add_column_staged(const std::string &table, const std::string &column, const std::string &type,
                              const std::optional<std::string> &default_expr) {
    std::string text = (boost::format("ALTER TABLE %1% ADD COLUMN %2% %3%") % table % column % type).str();
    if (default_expr)
        text += (boost::format(", ALTER COLUMN %1% SET DEFAULT (%2%)") % column % *default_expr).str();
    return text;
}

std::string fill_batch(const std::string &table, const std::string &column, const std::string &expr) {
    return (boost::format("UPDATE ONLY %1% SET %2% = (%3%)"
                          " WHERE ctid = ANY (ARRAY(SELECT ctid FROM ONLY %1%"
                          " WHERE ctid >= $1 AND ctid < $2 AND %2% IS NULL FOR UPDATE SKIP LOCKED)) AND %2% IS NULL") %
            table % column % expr)
        .str();
}

std::string fill_batch_direct(const std::string &table, const std::string &column, const std::string &expr) {
    return (boost::format("UPDATE ONLY %1% SET %2% = (%3%) WHERE ctid >= $1 AND ctid < $2 AND %2% IS NULL") % table %
            column % expr)
        .str();
}

std::string nulls_left(const std::string &table, const std::string &column) {
    return (boost::format("SELECT EXISTS (SELECT FROM ONLY %1% WHERE %2% IS NULL)") % table % column).str();
}

std::string add_not_null_check(const std::string &table, const std::string &constraint, const std::string &column) {
    return (boost::format("ALTER TABLE %1% ADD CONSTRAINT %2% CHECK (%3% IS NOT NULL) NOT VALID") % table %
            constraint % column)
        .str();
}

std::string add_not_null_not_valid(const std::string &table, const std::string &constraint,
                                   const std::string &column) {
    return (boost::format("ALTER TABLE %1% ADD CONSTRAINT %2% NOT NULL %3% NOT VALID") % table % constraint % column)
        .str();
}

std::string validate_constraint(const std::string &table, const std::string &constraint) {
    return (boost::format("ALTER TABLE %1% VALIDATE CONSTRAINT %2%") % table % constraint).str();
}

std::string check_not_valid(const std::string &table, const std::string &constraint, const std::string &expr,
                            bool no_inherit) {
    return (boost::format("ALTER TABLE %1% ADD CONSTRAINT %2% CHECK (%3%)%4% NOT VALID") % table % constraint % expr %
            (no_inherit ? " NO INHERIT" : ""))
        .str();
}

std::string foreign_key_not_valid(const std::string &table, const std::string &constraint, const std::string &column,
                                  const std::string &target) {
    return (boost::format("ALTER TABLE %1% ADD CONSTRAINT %2% FOREIGN KEY (%3%) REFERENCES %4% NOT VALID") % table %
            constraint % column % target)
        .str();
}

std::string add_constraint(const std::string &table, const std::string &constraint, const std::string &definition) {
    return (boost::format("ALTER TABLE %1% ADD CONSTRAINT %2% %3%") % table % constraint % definition).str();
}

std::string create_unique_index_concurrently(const std::string &index, const std::string &table,
                                             const std::string &column, bool nulls_not_distinct) {
    return (boost::format("CREATE UNIQUE INDEX CONCURRENTLY %1% ON %2% USING btree (%3%)%4%") % index % table % column %
            (nulls_not_distinct ? " NULLS NOT DISTINCT" : ""))
        .str();
}

std::string index_constraint_definition(bool primary_key, const std::string &index, bool deferrable,
                                        bool initially_deferred) {
    return (boost::format("%1% USING INDEX %2%%3%%4%") % (primary_key ? "PRIMARY KEY" : "UNIQUE") % index %
            (deferrable ? " DEFERRABLE" : "") % (initially_deferred ? " INITIALLY DEFERRED" : ""))
        .str();
}

std::string drop_index_concurrently(const std::string &index) {
    return (boost::format("DROP INDEX CONCURRENTLY IF EXISTS %1%") % index).str();
}

std::string drop_default(const std::string &table, const std::string &column) {
    return (boost::format("ALTER TABLE %1% ALTER COLUMN %2% DROP DEFAULT") % table % column).str();
}

std::string add_identity(const std::string &table, const std::string &column, const std::string &identity) {
    return (boost::format("ALTER TABLE %1% ALTER COLUMN %2% ADD %3%") % table % column % identity).str();
}

std::string drop_sequence(const std::string &sequence) {
    return (boost::format("DROP SEQUENCE %1%") % sequence).str();
}

std::string set_not_null(const std::string &table, const std::string &column) {
    return (boost::format("ALTER TABLE %1% ALTER COLUMN %2% SET NOT NULL") % table % column).str();
}

std::string drop_constraint(const std::string &table, const std::string &constraint) {
    return (boost::format("ALTER TABLE %1% DROP CONSTRAINT IF EXISTS %2%") % table % constraint).str();
}

std::string drop_column(const std::string &table, const std::string &column) {
    return (boost::format("ALTER TABLE %1% DROP COLUMN IF EXISTS %2%") % table % column).str();
}

std::string literal(const std::string &value) {
    bool has_backslash = value.find('\\') != std::string::npos;
    std::string out;
    out.reserve(value.size() + 3);
    if (has_backslash)
        out += 'E';
    out += '\'';
    for (char c : value) {
        if (c == '\'' || c == '\\')
            out += c;
        out += c;
    }
    out += '\'';
    return out;
}

}  // namespace sc::sql
