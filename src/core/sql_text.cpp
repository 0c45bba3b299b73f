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
