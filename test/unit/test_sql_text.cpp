// Unit tests of src/core/sql_text: the SQL text safe_column generates.
#include "core/sql_text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using sc::sql::AddColumnSpec;
using sc::sql::add_column;
using sc::sql::literal;

AddColumnSpec users_status() {
    AddColumnSpec spec;
    spec.table = "public.users";
    spec.column = "status";
    spec.type = "text";
    return spec;
}

TEST(SqlTextAddColumn, NoDefaultNullable) {
    EXPECT_EQ(add_column(users_status()), "ALTER TABLE public.users ADD COLUMN status text");
}

TEST(SqlTextAddColumn, WithDefault) {
    AddColumnSpec spec = users_status();
    spec.default_expr = "'active'";
    EXPECT_EQ(add_column(spec), "ALTER TABLE public.users ADD COLUMN status text DEFAULT ('active')");
}

TEST(SqlTextAddColumn, NotNullWithoutDefault) {
    AddColumnSpec spec = users_status();
    spec.not_null = true;
    EXPECT_EQ(add_column(spec), "ALTER TABLE public.users ADD COLUMN status text NOT NULL");
}

TEST(SqlTextAddColumn, DefaultAndNotNull) {
    AddColumnSpec spec = users_status();
    spec.default_expr = "'active'";
    spec.not_null = true;
    EXPECT_EQ(add_column(spec), "ALTER TABLE public.users ADD COLUMN status text DEFAULT ('active') NOT NULL");
}

TEST(SqlTextAddColumn, QuotedIdentifiersAndTypeModifiersPassThrough) {
    AddColumnSpec spec;
    spec.table = "\"My Schema\".\"Users\"";
    spec.column = "\"Order\"";
    spec.type = "character varying(20)";
    EXPECT_EQ(add_column(spec),
              "ALTER TABLE \"My Schema\".\"Users\" ADD COLUMN \"Order\" character varying(20)");
}

// An operator expression must stay one a_expr: without parentheses "1 + 1 NOT NULL" or
// "a = b IS NULL" could parse differently.
TEST(SqlTextAddColumn, ExpressionIsAlwaysParenthesised) {
    const std::string exprs[] = {"1 + 1", "now()", "0", "'a' || 'b'", "(1)", "gen_random_uuid()"};
    for (const std::string &expr : exprs) {
        AddColumnSpec spec = users_status();
        spec.default_expr = expr;
        spec.not_null = true;
        const std::string sql = add_column(spec);
        EXPECT_NE(sql.find(" DEFAULT (" + expr + ") NOT NULL"), std::string::npos) << sql;
        EXPECT_EQ(sql.rfind(" NOT NULL"), sql.size() - std::string(" NOT NULL").size()) << sql;
    }
}

// Boost.Format must not interpret format directives inside the arguments.
TEST(SqlTextAddColumn, PercentSignsInArgumentsAreNotFormatDirectives) {
    AddColumnSpec spec = users_status();
    spec.default_expr = "'%1% 100%'";
    EXPECT_EQ(add_column(spec), "ALTER TABLE public.users ADD COLUMN status text DEFAULT ('%1% 100%')");
}

TEST(SqlTextLiteral, Plain) {
    EXPECT_EQ(literal("active"), "'active'");
    EXPECT_EQ(literal("two words"), "'two words'");
}

TEST(SqlTextLiteral, EmptyString) {
    EXPECT_EQ(literal(""), "''");
}

TEST(SqlTextLiteral, EmbeddedSingleQuoteIsDoubled) {
    EXPECT_EQ(literal("it's"), "'it''s'");
    EXPECT_EQ(literal("'"), "''''");
    EXPECT_EQ(literal("''x''"), "'''''x'''''");
}

TEST(SqlTextLiteral, BackslashSwitchesToEscapeStringFormAndIsDoubled) {
    EXPECT_EQ(literal("a\\b"), "E'a\\\\b'");
    EXPECT_EQ(literal("\\"), "E'\\\\'");
    EXPECT_EQ(literal("C:\\dir\\"), "E'C:\\\\dir\\\\'");
}

TEST(SqlTextLiteral, BackslashAndQuoteTogether) {
    EXPECT_EQ(literal("it\\'s"), "E'it\\\\''s'");
}

TEST(SqlTextLiteral, NoBackslashMeansNoEscapePrefix) {
    for (const std::string value : {"E", "e'x", "\"quoted\"", "tab\there", "日本"}) {
        const std::string out = literal(value);
        ASSERT_FALSE(out.empty());
        EXPECT_EQ(out.front(), '\'') << out;
        EXPECT_EQ(out.back(), '\'') << out;
    }
}

TEST(SqlTextLiteral, OtherBytesAreCopiedUnchanged) {
    EXPECT_EQ(literal("tab\there\nnewline"), "'tab\there\nnewline'");
    EXPECT_EQ(literal("日本"), "'日本'");
    EXPECT_EQ(literal("\"quoted\""), "'\"quoted\"'");
}

// Property: undoing the quoting (strip the delimiters, halve every doubled quote and backslash) gives
// the value back, and no lone quote is left inside that could end the literal early.
TEST(SqlTextLiteral, RoundTripsThroughUnquoting) {
    const std::string values[] = {"", "x", "it's", "a\\b", "\\'", "'\\", "''", "\\\\", "mixed ' and \\ and ''"};
    for (const std::string &value : values) {
        const std::string out = literal(value);
        const bool escape_form = value.find('\\') != std::string::npos;
        const std::size_t start = escape_form ? 2 : 1;
        ASSERT_GE(out.size(), start + 1) << out;
        ASSERT_EQ(out.substr(0, start), escape_form ? "E'" : "'") << out;
        ASSERT_EQ(out.back(), '\'') << out;
        const std::string body = out.substr(start, out.size() - start - 1);
        std::string decoded;
        for (std::size_t i = 0; i < body.size(); ++i) {
            const char c = body[i];
            if (c == '\'' || (escape_form && c == '\\')) {
                ASSERT_LT(i + 1, body.size()) << "lone special character at the end of " << out;
                ASSERT_EQ(body[i + 1], c) << "lone special character in " << out;
                ++i;
            }
            decoded += c;
        }
        EXPECT_EQ(decoded, value) << out;
    }
}

}  // namespace
