// Unit tests of src/core/sql_text: the SQL text safe_column generates.
#include "core/sql_text.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <string>

namespace {

using sc::sql::AddColumnSpec;
using sc::sql::add_column;
using sc::sql::add_column_staged;
using sc::sql::add_not_null_check;
using sc::sql::add_not_null_not_valid;
using sc::sql::drop_column;
using sc::sql::drop_constraint;
using sc::sql::fill_batch;
using sc::sql::fill_batch_direct;
using sc::sql::literal;
using sc::sql::nulls_left;
using sc::sql::set_not_null;
using sc::sql::validate_constraint;

// How many times `needle` occurs in `haystack` (non-overlapping).
std::size_t count_of(const std::string &haystack, const std::string &needle) {
    std::size_t n = 0;
    for (std::size_t pos = haystack.find(needle); pos != std::string::npos;
         pos = haystack.find(needle, pos + needle.size()))
        ++n;
    return n;
}

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

// ---------------------------------------------------------------------------------------------------
// The staged addition: add_column_staged, fill_batch, nulls_left and the NOT NULL steps

TEST(SqlTextAddColumnStaged, WithoutDefault) {
    EXPECT_EQ(add_column_staged("public.users", "status", "text", std::nullopt),
              "ALTER TABLE public.users ADD COLUMN status text");
}

// The default is set for new rows only, in the same statement, and never as ADD COLUMN ... DEFAULT
// (which would give existing rows the value too, with a rewrite for a volatile expression).
TEST(SqlTextAddColumnStaged, WithDefaultSetsItForNewRowsOnly) {
    const std::string sql = add_column_staged("public.users", "status", "text", std::string("'active'"));
    EXPECT_EQ(sql, "ALTER TABLE public.users ADD COLUMN status text, ALTER COLUMN status SET DEFAULT ('active')");
    EXPECT_EQ(sql.find(" text DEFAULT"), std::string::npos);
    EXPECT_EQ(sql.find("NOT NULL"), std::string::npos);
}

TEST(SqlTextAddColumnStaged, QuotedIdentifiersExpressionsAndPercentSignsPassThrough) {
    EXPECT_EQ(add_column_staged("\"My Schema\".\"Users\"", "\"Order\"", "character varying(20)",
                                std::string("'%1% ' || 1 + 1")),
              "ALTER TABLE \"My Schema\".\"Users\" ADD COLUMN \"Order\" character varying(20), "
              "ALTER COLUMN \"Order\" SET DEFAULT ('%1% ' || 1 + 1)");
}

TEST(SqlTextFillBatch, ExactText) {
    EXPECT_EQ(fill_batch("public.users", "status", "'active'"),
              "UPDATE ONLY public.users SET status = ('active')"
              " WHERE ctid = ANY (ARRAY(SELECT ctid FROM ONLY public.users"
              " WHERE ctid >= $1 AND ctid < $2 AND status IS NULL FOR UPDATE SKIP LOCKED)) AND status IS NULL");
}

// The parts that make a batch safe, checked one by one so that a failure says which one is missing.
TEST(SqlTextFillBatch, HasEverySafetyPart) {
    const std::string sql = fill_batch("public.users", "status", "now()");
    const std::size_t inner_start = sql.find("(SELECT ");
    const std::size_t inner_end = sql.find("))", inner_start);
    ASSERT_NE(inner_start, std::string::npos) << sql;
    ASSERT_NE(inner_end, std::string::npos) << sql;
    const std::string inner = sql.substr(inner_start, inner_end - inner_start);
    const std::string outer = sql.substr(inner_end);

    // ONLY on both the updated table and the scanned one: parts and children are their own jobs.
    EXPECT_EQ(sql.rfind("UPDATE ONLY public.users ", 0), 0u) << sql;
    EXPECT_NE(inner.find("FROM ONLY public.users "), std::string::npos) << sql;
    // The TID range [$1, $2), half open, as a TID Range Scan can use it (parameters: one plan for
    // every batch).
    EXPECT_NE(inner.find("ctid >= $1"), std::string::npos) << sql;
    EXPECT_NE(inner.find("ctid < $2"), std::string::npos) << sql;
    EXPECT_EQ(sql.find("<="), std::string::npos) << sql;
    // Rows locked by the application are skipped, not waited on.
    EXPECT_NE(inner.find("FOR UPDATE SKIP LOCKED"), std::string::npos) << sql;
    // IS NULL inside (only lock and collect rows still to fill) and outside (never overwrite a value
    // written between the scan and the update).
    EXPECT_NE(inner.find("status IS NULL"), std::string::npos) << sql;
    EXPECT_NE(outer.find("status IS NULL"), std::string::npos) << sql;
    EXPECT_EQ(count_of(sql, "status IS NULL"), 2u) << sql;
    // The expression is one parenthesised a_expr.
    EXPECT_NE(sql.find("SET status = (now())"), std::string::npos) << sql;
}

// The text does not depend on the range: one kept plan serves every batch of a part.
TEST(SqlTextFillBatch, TheTextIsTheSameForEveryBatch) {
    EXPECT_EQ(count_of(fill_batch("t", "c", "1"), "$1"), 1u);
    EXPECT_EQ(count_of(fill_batch("t", "c", "1"), "$2"), 1u);
    EXPECT_EQ(count_of(fill_batch_direct("t", "c", "1"), "$1"), 1u);
    EXPECT_EQ(count_of(fill_batch_direct("t", "c", "1"), "$2"), 1u);
    EXPECT_EQ(fill_batch("t", "c", "1").find("$3"), std::string::npos);
}

TEST(SqlTextFillBatch, QuotedIdentifiersAndPercentSignsPassThrough) {
    EXPECT_EQ(fill_batch("\"S\".\"T 1\"", "\"Col\"", "'%1%%2%'"),
              "UPDATE ONLY \"S\".\"T 1\" SET \"Col\" = ('%1%%2%')"
              " WHERE ctid = ANY (ARRAY(SELECT ctid FROM ONLY \"S\".\"T 1\""
              " WHERE ctid >= $1 AND ctid < $2 AND \"Col\" IS NULL FOR UPDATE SKIP LOCKED)) AND \"Col\" IS NULL");
}

TEST(SqlTextFillBatchDirect, ExactText) {
    EXPECT_EQ(fill_batch_direct("public.users", "status", "'active'"),
              "UPDATE ONLY public.users SET status = ('active') WHERE ctid >= $1 AND ctid < $2 AND status IS NULL");
}

// The fast path: one TID range scan, no row-lock pre-pass, the same range and guards as fill_batch.
TEST(SqlTextFillBatchDirect, SameRangeAndGuardsWithoutThePrePass) {
    const std::string direct = fill_batch_direct("\"S\".\"T\"", "\"C\"", "f(x)");
    EXPECT_EQ(direct.rfind("UPDATE ONLY \"S\".\"T\" SET \"C\" = (f(x))", 0), 0u) << direct;
    EXPECT_NE(direct.find("ctid >= $1 AND ctid < $2"), std::string::npos);
    EXPECT_EQ(count_of(direct, "\"C\" IS NULL"), 1u) << direct;
    EXPECT_EQ(direct.find("SKIP LOCKED"), std::string::npos) << direct;
    EXPECT_EQ(direct.find("SELECT"), std::string::npos) << direct;
}

TEST(SqlTextNullsLeft, ExactText) {
    EXPECT_EQ(nulls_left("public.users", "status"),
              "SELECT EXISTS (SELECT FROM ONLY public.users WHERE status IS NULL)");
    EXPECT_EQ(nulls_left("\"S\".\"T\"", "\"C\""), "SELECT EXISTS (SELECT FROM ONLY \"S\".\"T\" WHERE \"C\" IS NULL)");
}

TEST(SqlTextNotNullSteps, AddNotNullCheckIsNotValid) {
    EXPECT_EQ(add_not_null_check("public.users", "users_status_not_null", "status"),
              "ALTER TABLE public.users ADD CONSTRAINT users_status_not_null CHECK (status IS NOT NULL) NOT VALID");
    EXPECT_EQ(add_not_null_check("\"S\".\"T\"", "\"c k\"", "\"C\""),
              "ALTER TABLE \"S\".\"T\" ADD CONSTRAINT \"c k\" CHECK (\"C\" IS NOT NULL) NOT VALID");
}

TEST(SqlTextNotNullSteps, AddNotNullNotValidIsTheNativeConstraint) {
    EXPECT_EQ(add_not_null_not_valid("public.users", "users_status_not_null", "status"),
              "ALTER TABLE public.users ADD CONSTRAINT users_status_not_null NOT NULL status NOT VALID");
    EXPECT_EQ(add_not_null_not_valid("\"S\".\"T\"", "\"c k\"", "\"C\""),
              "ALTER TABLE \"S\".\"T\" ADD CONSTRAINT \"c k\" NOT NULL \"C\" NOT VALID");
}

TEST(SqlTextNotNullSteps, ValidateConstraint) {
    EXPECT_EQ(validate_constraint("public.users", "users_status_not_null"),
              "ALTER TABLE public.users VALIDATE CONSTRAINT users_status_not_null");
}

// A column's inline CHECK / REFERENCES, staged: tried NOT VALID at creation, added again by the worker
// from PostgreSQL's own definition of it.
TEST(SqlTextStagedConstraints, CheckNotValid) {
    EXPECT_EQ(sc::sql::check_not_valid("public.orders", "orders_qty_check", "qty >= 0"),
              "ALTER TABLE public.orders ADD CONSTRAINT orders_qty_check CHECK (qty >= 0) NOT VALID");
    EXPECT_EQ(sc::sql::check_not_valid("public.orders", "orders_qty_check", "qty >= 0", true),
              "ALTER TABLE public.orders ADD CONSTRAINT orders_qty_check CHECK (qty >= 0) NO INHERIT NOT VALID");
}

TEST(SqlTextStagedConstraints, ForeignKeyNotValid) {
    EXPECT_EQ(sc::sql::foreign_key_not_valid("public.orders", "orders_owner_id_fkey", "owner_id",
                                             "users (id) ON DELETE CASCADE"),
              "ALTER TABLE public.orders ADD CONSTRAINT orders_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES "
              "users (id) ON DELETE CASCADE NOT VALID");
}

TEST(SqlTextStagedConstraints, AddConstraintFromDefinition) {
    EXPECT_EQ(sc::sql::add_constraint("\"S\".\"T\"", "\"c k\"", "CHECK ((qty >= 0)) NOT VALID"),
              "ALTER TABLE \"S\".\"T\" ADD CONSTRAINT \"c k\" CHECK ((qty >= 0)) NOT VALID");
}

TEST(SqlTextNotNullSteps, SetNotNull) {
    EXPECT_EQ(set_not_null("public.users", "status"), "ALTER TABLE public.users ALTER COLUMN status SET NOT NULL");
    EXPECT_EQ(set_not_null("\"S\".\"T\"", "\"C\""), "ALTER TABLE \"S\".\"T\" ALTER COLUMN \"C\" SET NOT NULL");
}

TEST(SqlTextNotNullSteps, DropConstraintIfExists) {
    EXPECT_EQ(drop_constraint("public.users", "users_status_not_null"),
              "ALTER TABLE public.users DROP CONSTRAINT IF EXISTS users_status_not_null");
}

TEST(SqlTextDropColumn, IfExists) {
    EXPECT_EQ(drop_column("public.users", "status"), "ALTER TABLE public.users DROP COLUMN IF EXISTS status");
    EXPECT_EQ(drop_column("\"S\".\"T\"", "\"Order\""), "ALTER TABLE \"S\".\"T\" DROP COLUMN IF EXISTS \"Order\"");
}

TEST(SqlText, StagedUniqueIndex) {
    EXPECT_EQ(sc::sql::create_unique_index_concurrently("t_c_key", "public.t", "c", false),
              "CREATE UNIQUE INDEX CONCURRENTLY t_c_key ON public.t USING btree (c)");
    EXPECT_EQ(sc::sql::create_unique_index_concurrently("\"K\"", "s.t", "\"C\"", true),
              "CREATE UNIQUE INDEX CONCURRENTLY \"K\" ON s.t USING btree (\"C\") NULLS NOT DISTINCT");
    EXPECT_EQ(sc::sql::index_constraint_definition(false, "t_c_key", false, false), "UNIQUE USING INDEX t_c_key");
    EXPECT_EQ(sc::sql::index_constraint_definition(true, "t_pkey", true, true),
              "PRIMARY KEY USING INDEX t_pkey DEFERRABLE INITIALLY DEFERRED");
    EXPECT_EQ(sc::sql::drop_index_concurrently("s.t_c_key"), "DROP INDEX CONCURRENTLY IF EXISTS s.t_c_key");
}

TEST(SqlText, StagedIdentity) {
    EXPECT_EQ(sc::sql::drop_default("public.t", "id"), "ALTER TABLE public.t ALTER COLUMN id DROP DEFAULT");
    EXPECT_EQ(sc::sql::add_identity("public.t", "id", "GENERATED ALWAYS AS IDENTITY"),
              "ALTER TABLE public.t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY");
    EXPECT_EQ(sc::sql::drop_sequence("public.t_id_staging_seq"), "DROP SEQUENCE public.t_id_staging_seq");
}

}  // namespace
