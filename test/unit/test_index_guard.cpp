#include <gtest/gtest.h>

#include "core/index_guard.hpp"

using namespace sc::ddl;

namespace {

constexpr std::int64_t MB = 1024 * 1024;
constexpr std::int64_t min_bytes = 10 * MB;

IndexStatement create(const char *sql, std::int64_t bytes = 300 * MB) {
    IndexStatement s;
    s.verb = IndexVerb::create;
    s.sql = sql;
    s.table = "public.users";
    s.table_name = "\"users\"";
    s.index = "users_email_idx";
    s.table_bytes = bytes;
    return s;
}

}  // namespace

TEST(WithConcurrently, InsertsAfterTheKeywordThePostgresGrammarWants) {
    EXPECT_EQ(with_concurrently("CREATE INDEX i ON t (a)"), "CREATE INDEX CONCURRENTLY i ON t (a)");
    EXPECT_EQ(with_concurrently("create unique index on t (a)"), "create unique index CONCURRENTLY on t (a)");
    EXPECT_EQ(with_concurrently("CREATE INDEX IF NOT EXISTS i ON t (a)"),
              "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)");
    EXPECT_EQ(with_concurrently("DROP INDEX IF EXISTS i"), "DROP INDEX CONCURRENTLY IF EXISTS i");
    EXPECT_EQ(with_concurrently("REINDEX TABLE t"), "REINDEX TABLE CONCURRENTLY t");
    EXPECT_EQ(with_concurrently("REINDEX (VERBOSE, TABLESPACE x) INDEX i"),
              "REINDEX (VERBOSE, TABLESPACE x) INDEX CONCURRENTLY i");
}

TEST(WithConcurrently, SkipsCommentsAndLeavesOtherStatementsAlone) {
    EXPECT_EQ(with_concurrently("/* a /* nested */ one */ CREATE -- x\n INDEX i ON t (a)"),
              "/* a /* nested */ one */ CREATE -- x\n INDEX CONCURRENTLY i ON t (a)");
    EXPECT_EQ(with_concurrently("CREATE INDEX CONCURRENTLY i ON t (a)"), "CREATE INDEX CONCURRENTLY i ON t (a)");
    EXPECT_EQ(with_concurrently("REINDEX SCHEMA s"), "");
    EXPECT_EQ(with_concurrently("CREATE TABLE t (a int)"), "");
    EXPECT_EQ(with_concurrently(""), "");
}

TEST(IndexGuard, CreateIndexOnALargeTableIsRefusedWithTheConcurrentStatement) {
    IndexStatement s = create("CREATE INDEX users_email_idx ON users (email)");
    Verdict v = decide_index(s, Mode::guard, min_bytes);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_EQ(v.message, "this CREATE INDEX would block writes to table \"users\" while it builds the index");
    EXPECT_NE(v.detail.find("SHARE lock on the table"), std::string::npos) << v.detail;
    EXPECT_NE(v.detail.find("300 MB"), std::string::npos) << v.detail;
    EXPECT_NE(v.hint.find("CREATE INDEX CONCURRENTLY users_email_idx ON users (email);"), std::string::npos) << v.hint;
    EXPECT_NE(v.hint.find("SET LOCAL"), std::string::npos) << v.hint;
    EXPECT_EQ(v.hint.find("USING INDEX"), std::string::npos) << v.hint;
}

TEST(IndexGuard, UniqueIndexHintAttachesTheConstraintOnlyWhenItCan) {
    IndexStatement s = create("CREATE UNIQUE INDEX users_email_idx ON users (email)");
    s.unique = true;
    s.constraint_capable = true;
    Verdict v = decide_index(s, Mode::guard, min_bytes);
    EXPECT_NE(v.hint.find("ALTER TABLE public.users ADD CONSTRAINT users_email_idx UNIQUE USING INDEX users_email_idx;"),
              std::string::npos)
        << v.hint;
    s.constraint_capable = false;  // an expression, a WHERE, another method
    EXPECT_EQ(decide_index(s, Mode::guard, min_bytes).hint.find("USING INDEX"), std::string::npos);
}

TEST(IndexGuard, SmallTablesConcurrentFormsAndModeOff) {
    IndexStatement s = create("CREATE INDEX i ON users (email)", 1 * MB);
    Verdict v = decide_index(s, Mode::guard, min_bytes);
    EXPECT_EQ(v.action, Action::run_guarded);
    EXPECT_TRUE(v.below_min_size);
    s = create("CREATE INDEX CONCURRENTLY i ON users (email)");
    s.concurrent = true;
    EXPECT_EQ(decide_index(s, Mode::guard, min_bytes).action, Action::run);
    EXPECT_EQ(decide_index(create("CREATE INDEX i ON users (email)"), Mode::off, min_bytes).action, Action::run);
}

TEST(IndexGuard, WarnModeWarnsAndRuns) {
    Verdict v = decide_index(create("CREATE INDEX i ON users (email)"), Mode::warn, min_bytes);
    EXPECT_EQ(v.action, Action::warn);
    EXPECT_EQ(v.message, "this CREATE INDEX will block writes to table \"users\" while it builds the index");
}

TEST(IndexGuard, StageModeStagesANamedCreateIndex) {
    EXPECT_EQ(decide_index(create("CREATE INDEX i ON users (email)"), Mode::stage, min_bytes).action, Action::stage);
    // Below guard_min_size: as sent, its lock taken queue-safely.
    EXPECT_EQ(decide_index(create("CREATE INDEX i ON users (email)", MB), Mode::stage, min_bytes).action,
              Action::run_guarded);
    // Without a name (the server would choose it), or on a partitioned table: refused, and says why.
    IndexStatement unnamed = create("CREATE INDEX ON users (email)");
    unnamed.index.clear();
    Verdict v = decide_index(unnamed, Mode::stage, min_bytes);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_NE(v.hint.find("stages a CREATE INDEX that names its index"), std::string::npos) << v.hint;
    IndexStatement parted = create("CREATE INDEX i ON users (email)");
    parted.partitioned = true;
    EXPECT_EQ(decide_index(parted, Mode::stage, min_bytes).action, Action::refuse);
    // REINDEX is guarded in stage mode as in guard mode.
    IndexStatement re = create("REINDEX TABLE users");
    re.verb = IndexVerb::reindex;
    re.whole_table = true;
    v = decide_index(re, Mode::stage, min_bytes);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_NE(v.hint.find("DROP INDEX and REINDEX are guarded as in guard mode"), std::string::npos) << v.hint;
}

TEST(IndexGuard, PartitionedTableGetsTheOnOnlyRecipe) {
    IndexStatement s = create("CREATE INDEX i ON users (email)");
    s.partitioned = true;
    Verdict v = decide_index(s, Mode::guard, min_bytes);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_NE(v.detail.find("every partition"), std::string::npos) << v.detail;
    EXPECT_NE(v.hint.find("ON ONLY public.users"), std::string::npos) << v.hint;
    EXPECT_NE(v.hint.find("ATTACH PARTITION"), std::string::npos) << v.hint;
    EXPECT_EQ(v.hint.find("Run instead"), std::string::npos) << v.hint;
}

TEST(IndexGuard, DropIndexIsOnlyTakenQueueSafely) {
    IndexStatement s = create("DROP INDEX i");
    s.verb = IndexVerb::drop;
    EXPECT_EQ(index_lockmode(s), 8);
    Verdict v = decide_index(s, Mode::guard, min_bytes);
    EXPECT_EQ(v.action, Action::run_guarded);
    EXPECT_FALSE(v.below_min_size);
    EXPECT_EQ(decide_index(s, Mode::warn, min_bytes).action, Action::run);
    std::vector<PlanStep> p = plan_index(s);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[1].sql, "DROP INDEX i");
    EXPECT_NE(p[1].note.find("queue-safely"), std::string::npos);
}

TEST(IndexGuard, ReindexBlocksReadsTooAndCountsItsIndexes) {
    IndexStatement s = create("REINDEX TABLE users");
    s.verb = IndexVerb::reindex;
    s.whole_table = true;
    s.index_count = 3;
    Effect e = assess_index(s);
    EXPECT_EQ(e.lockmode, 8);
    EXPECT_NE(e.what.find("3 indexes"), std::string::npos) << e.what;
    EXPECT_DOUBLE_EQ(e.seconds, 3 * index_build_seconds(s.table_bytes));
    Verdict v = decide_index(s, Mode::guard, min_bytes);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_EQ(v.message, "this REINDEX TABLE would block reads and writes of table \"users\" while it rebuilds indexes");
    EXPECT_NE(v.hint.find("REINDEX TABLE CONCURRENTLY users;"), std::string::npos) << v.hint;
}

TEST(IndexGuard, PlanShowsAsSentThenTheSafeSteps) {
    IndexStatement s = create("CREATE UNIQUE INDEX users_email_idx ON users (email)");
    s.unique = s.constraint_capable = true;
    std::vector<PlanStep> p = plan_index(s);
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[0].approach, "as sent");
    EXPECT_EQ(p[0].lockmode, 5);
    EXPECT_TRUE(p[0].index_build);
    EXPECT_EQ(p[1].sql, "CREATE UNIQUE INDEX CONCURRENTLY users_email_idx ON users (email)");
    EXPECT_EQ(p[1].lockmode, 4);
    EXPECT_GT(*p[1].seconds, *p[0].seconds);
    EXPECT_EQ(p[2].lockmode, 8);
}

TEST(IndexGuard, OnOnlyAPartitionedTableIsCatalogOnly) {
    IndexStatement s = create("CREATE INDEX i ON ONLY users (email)");
    s.partitioned = s.only_parent = true;
    EXPECT_FALSE(assess_index(s).heavy());
    EXPECT_EQ(decide_index(s, Mode::guard, min_bytes).action, Action::run_guarded);
    EXPECT_EQ(decide_index(s, Mode::warn, min_bytes).action, Action::run);
}
