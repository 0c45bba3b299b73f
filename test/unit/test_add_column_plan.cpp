// Unit tests of src/core/add_column_plan (the decision table of safe_add_column) and of sc::Error.
#include "core/add_column_plan.hpp"
#include "core/error.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sc {
// Readable failure messages.
void PrintTo(AddColumnPath path, std::ostream *os) {
    switch (path) {
    case AddColumnPath::catalog_only: *os << "catalog_only"; return;
    case AddColumnPath::backfill: *os << "backfill"; return;
    case AddColumnPath::refuse: *os << "refuse"; return;
    }
    *os << "AddColumnPath(" << static_cast<int>(path) << ")";
}
}  // namespace sc

namespace {

using sc::AddColumnDecision;
using sc::AddColumnFacts;
using sc::AddColumnPath;
using sc::decide_add_column;

std::string describe(const AddColumnFacts &f) {
    std::string s;
    s += f.has_default ? "default" : "no default";
    s += f.default_volatile ? " (volatile)" : "";
    s += f.domain_has_constraints ? ", constrained domain" : "";
    s += f.not_null ? ", NOT NULL" : ", nullable";
    s += f.has_backfill_expr ? ", backfill_expr" : "";
    s += f.table_has_rows ? ", table has rows" : ", empty table";
    return s;
}

// Every combination of the six facts.
std::vector<AddColumnFacts> all_facts() {
    std::vector<AddColumnFacts> out;
    for (int bits = 0; bits < 64; ++bits) {
        AddColumnFacts f;
        f.has_default = bits & 1;
        f.default_volatile = bits & 2;
        f.domain_has_constraints = bits & 4;
        f.not_null = bits & 8;
        f.has_backfill_expr = bits & 16;
        f.table_has_rows = bits & 32;
        out.push_back(f);
    }
    return out;
}

bool is_sentence(const std::string &s) {
    return s.size() >= 2 && std::isupper(static_cast<unsigned char>(s.front())) && s.back() == '.' &&
           s.find('\n') == std::string::npos;
}

AddColumnFacts facts(bool has_default, bool volatile_, bool not_null, bool backfill = false, bool rows = true,
                     bool domain = false) {
    AddColumnFacts f;
    f.has_default = has_default;
    f.default_volatile = volatile_;
    f.not_null = not_null;
    f.has_backfill_expr = backfill;
    f.table_has_rows = rows;
    f.domain_has_constraints = domain;
    return f;
}

// ---------------------------------------------------------------------------------------------------
// The decision table, row by row

TEST(AddColumnPlan, ConstrainedDomainIsRefusedWithFeatureNotSupported) {
    const AddColumnDecision d = decide_add_column(facts(false, false, false, false, true, true));
    EXPECT_EQ(d.path, AddColumnPath::refuse);
    EXPECT_EQ(d.sqlstate, "0A000");
    EXPECT_FALSE(d.reason.empty());
    EXPECT_FALSE(d.hint.empty());
    EXPECT_NE(d.reason.find("domain"), std::string::npos) << d.reason;
}

TEST(AddColumnPlan, ConstrainedDomainIsRefusedEvenWithADefaultOrBackfill) {
    for (const AddColumnFacts &f :
         {facts(true, false, false, false, true, true), facts(true, false, true, false, true, true),
          facts(true, true, true, false, true, true), facts(false, false, true, true, true, true),
          facts(true, false, false, false, false, true)}) {
        const AddColumnDecision d = decide_add_column(f);
        EXPECT_EQ(d.path, AddColumnPath::refuse) << describe(f);
        EXPECT_EQ(d.sqlstate, sc::sqlstate::feature_not_supported) << describe(f);
    }
}

TEST(AddColumnPlan, BackfillExpressionGivesBackfill) {
    for (const AddColumnFacts &f :
         {facts(false, false, false, true), facts(false, false, true, true), facts(true, false, true, true),
          facts(true, true, true, true), facts(false, false, true, true, false)}) {
        const AddColumnDecision d = decide_add_column(f);
        EXPECT_EQ(d.path, AddColumnPath::backfill) << describe(f);
        EXPECT_TRUE(d.sqlstate.empty()) << describe(f);
        EXPECT_NE(d.reason.find("backfill"), std::string::npos) << d.reason;
    }
}

TEST(AddColumnPlan, VolatileDefaultGivesBackfill) {
    const AddColumnDecision d = decide_add_column(facts(true, true, false));
    EXPECT_EQ(d.path, AddColumnPath::backfill);
    EXPECT_TRUE(d.sqlstate.empty());
    EXPECT_NE(d.reason.find("volatile"), std::string::npos) << d.reason;
}

TEST(AddColumnPlan, VolatileDefaultWithNotNullGivesBackfill) {
    EXPECT_EQ(decide_add_column(facts(true, true, true)).path, AddColumnPath::backfill);
    EXPECT_EQ(decide_add_column(facts(true, true, true, false, false)).path, AddColumnPath::backfill);
}

TEST(AddColumnPlan, NonVolatileDefaultIsCatalogOnly) {
    const AddColumnDecision d = decide_add_column(facts(true, false, false));
    EXPECT_EQ(d.path, AddColumnPath::catalog_only);
    EXPECT_TRUE(d.sqlstate.empty());
    EXPECT_NE(d.reason.find("catalog"), std::string::npos) << d.reason;
}

TEST(AddColumnPlan, NonVolatileDefaultWithNotNullIsCatalogOnly) {
    const AddColumnDecision d = decide_add_column(facts(true, false, true));
    EXPECT_EQ(d.path, AddColumnPath::catalog_only);
    EXPECT_TRUE(d.sqlstate.empty());
}

TEST(AddColumnPlan, NotNullWithoutValueOnTableWithRowsIsRefused) {
    const AddColumnDecision d = decide_add_column(facts(false, false, true, false, true));
    EXPECT_EQ(d.path, AddColumnPath::refuse);
    EXPECT_EQ(d.sqlstate, "23502");
    EXPECT_FALSE(d.reason.empty());
    // The hint names both ways out.
    EXPECT_NE(d.hint.find("default_expr"), std::string::npos) << d.hint;
    EXPECT_NE(d.hint.find("backfill_expr"), std::string::npos) << d.hint;
}

TEST(AddColumnPlan, NotNullWithoutValueOnEmptyTableIsCatalogOnly) {
    const AddColumnDecision d = decide_add_column(facts(false, false, true, false, false));
    EXPECT_EQ(d.path, AddColumnPath::catalog_only);
    EXPECT_TRUE(d.sqlstate.empty());
    EXPECT_NE(d.reason.find("empty"), std::string::npos) << d.reason;
}

TEST(AddColumnPlan, NullableWithoutDefaultIsCatalogOnly) {
    for (bool rows : {true, false}) {
        const AddColumnDecision d = decide_add_column(facts(false, false, false, false, rows));
        EXPECT_EQ(d.path, AddColumnPath::catalog_only) << "rows " << rows;
        EXPECT_TRUE(d.sqlstate.empty());
    }
}

TEST(AddColumnPlan, DefaultFactsAreANullableColumnWithoutDefault) {
    const AddColumnDecision d = decide_add_column(AddColumnFacts{});
    EXPECT_EQ(d.path, AddColumnPath::catalog_only);
}

// ---------------------------------------------------------------------------------------------------
// Properties over all 64 combinations of facts

TEST(AddColumnPlanAllFacts, RefusalsCarrySqlstateReasonAndHint) {
    int refusals = 0;
    for (const AddColumnFacts &f : all_facts()) {
        const AddColumnDecision d = decide_add_column(f);
        if (d.path != AddColumnPath::refuse)
            continue;
        ++refusals;
        EXPECT_EQ(d.sqlstate.size(), 5u) << describe(f);
        EXPECT_NE(d.sqlstate, "XX000") << describe(f);
        EXPECT_FALSE(d.reason.empty()) << describe(f);
        EXPECT_FALSE(d.hint.empty()) << describe(f);
    }
    // 32 with a constrained domain, plus NOT NULL without any value on a table with rows (2: volatile flag).
    EXPECT_EQ(refusals, 34);
}

TEST(AddColumnPlanAllFacts, NonRefusalsHaveNoSqlstate) {
    for (const AddColumnFacts &f : all_facts()) {
        const AddColumnDecision d = decide_add_column(f);
        if (d.path != AddColumnPath::refuse) {
            EXPECT_TRUE(d.sqlstate.empty()) << describe(f) << ": " << d.sqlstate;
            EXPECT_FALSE(d.reason.empty()) << describe(f);
        }
    }
}

TEST(AddColumnPlanAllFacts, ReasonsAndHintsAreFullSentences) {
    for (const AddColumnFacts &f : all_facts()) {
        const AddColumnDecision d = decide_add_column(f);
        EXPECT_TRUE(is_sentence(d.reason)) << describe(f) << ": \"" << d.reason << "\"";
        if (!d.hint.empty()) {
            EXPECT_TRUE(is_sentence(d.hint)) << describe(f) << ": \"" << d.hint << "\"";
        }
    }
}

TEST(AddColumnPlanAllFacts, ConstrainedDomainAlwaysRefused) {
    for (const AddColumnFacts &f : all_facts()) {
        if (!f.domain_has_constraints)
            continue;
        const AddColumnDecision d = decide_add_column(f);
        EXPECT_EQ(d.path, AddColumnPath::refuse) << describe(f);
        EXPECT_EQ(d.sqlstate, "0A000") << describe(f);
    }
}

// Safety: no combination leads to a table rewrite or to NULLs in a NOT NULL column on the catalog path.
TEST(AddColumnPlanAllFacts, CatalogOnlyIsNeverChosenWhenItWouldBeUnsafe) {
    for (const AddColumnFacts &f : all_facts()) {
        const AddColumnDecision d = decide_add_column(f);
        if (d.path != AddColumnPath::catalog_only)
            continue;
        EXPECT_FALSE(f.domain_has_constraints) << describe(f);
        EXPECT_FALSE(f.has_default && f.default_volatile) << describe(f);
        EXPECT_FALSE(f.has_backfill_expr) << describe(f);
        EXPECT_FALSE(f.not_null && !f.has_default && f.table_has_rows) << describe(f);
    }
}

TEST(AddColumnPlanAllFacts, NotNullViolationOnlyForNotNullColumnsOfTablesWithRows) {
    for (const AddColumnFacts &f : all_facts()) {
        const AddColumnDecision d = decide_add_column(f);
        if (d.sqlstate == sc::sqlstate::not_null_violation) {
            EXPECT_TRUE(f.not_null) << describe(f);
            EXPECT_TRUE(f.table_has_rows) << describe(f);
            EXPECT_FALSE(f.has_default) << describe(f);
            EXPECT_FALSE(f.has_backfill_expr) << describe(f);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// sc::Error

TEST(ScError, StoresSqlstateMessageDetailAndHint) {
    const sc::Error e("55P03", "could not lock \"users\"", "Process 42 holds AccessShareLock.", "Retry later.");
    EXPECT_EQ(e.sqlstate(), "55P03");
    EXPECT_STREQ(e.what(), "could not lock \"users\"");
    EXPECT_EQ(e.detail(), "Process 42 holds AccessShareLock.");
    EXPECT_EQ(e.hint(), "Retry later.");
}

TEST(ScError, DetailAndHintDefaultToEmpty) {
    const sc::Error e(sc::sqlstate::invalid_parameter_value, "bad value");
    EXPECT_EQ(e.sqlstate(), "22023");
    EXPECT_STREQ(e.what(), "bad value");
    EXPECT_TRUE(e.detail().empty());
    EXPECT_TRUE(e.hint().empty());
}

TEST(ScError, InvalidSqlstateBecomesInternalError) {
    for (const std::string bad : {"", "1", "2350", "235020", "XX0000", "not a sqlstate"}) {
        const sc::Error e(bad, "message", "detail", "hint");
        EXPECT_EQ(e.sqlstate(), "XX000") << "\"" << bad << "\"";
        // The rest is kept.
        EXPECT_STREQ(e.what(), "message");
        EXPECT_EQ(e.detail(), "detail");
        EXPECT_EQ(e.hint(), "hint");
    }
}

TEST(ScError, IsCaughtAsStdRuntimeError) {
    try {
        throw sc::Error(sc::sqlstate::lock_not_available, "could not lock");
    } catch (const std::runtime_error &e) {
        EXPECT_STREQ(e.what(), "could not lock");
        const auto *sc_error = dynamic_cast<const sc::Error *>(&e);
        ASSERT_NE(sc_error, nullptr);
        EXPECT_EQ(sc_error->sqlstate(), "55P03");
        return;
    }
    FAIL() << "not caught";
}

TEST(ScError, SqlstateConstantsMatchPostgresErrcodes) {
    EXPECT_STREQ(sc::sqlstate::internal_error, "XX000");
    EXPECT_STREQ(sc::sqlstate::invalid_parameter_value, "22023");
    EXPECT_STREQ(sc::sqlstate::feature_not_supported, "0A000");
    EXPECT_STREQ(sc::sqlstate::lock_not_available, "55P03");
    EXPECT_STREQ(sc::sqlstate::not_null_violation, "23502");
}

}  // namespace
