#include <gtest/gtest.h>

#include "core/ddl_guard.hpp"

using namespace sc::ddl;

namespace {

constexpr std::int64_t MB = 1024 * 1024;

Statement table(std::int64_t bytes = 300 * MB) {
    Statement s;
    s.table = "public.users";
    s.table_name = "\"users\"";
    s.table_bytes = bytes;
    s.index_bytes = 40 * MB;
    return s;
}

Command add_column(const char *col, const char *type) {
    Command c;
    c.kind = Kind::add_column;
    c.lockmode = 8;
    c.column = col;
    c.column_name = col;
    c.type = type;
    return c;
}

Command alter_type(const char *col, const char *type, bool rewrite) {
    Command c;
    c.kind = Kind::alter_type;
    c.lockmode = 8;
    c.column = col;
    c.column_name = col;
    c.type = type;
    c.type_rewrite = rewrite;
    c.new_column = std::string(col) + "_new";
    c.new_column_name = c.new_column;
    return c;
}

Statement with(Command c, std::int64_t bytes = 300 * MB) {
    Statement s = table(bytes);
    s.cmds.push_back(std::move(c));
    return s;
}

bool contains(const std::string &s, const std::string &part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(DdlGuard, LockModeNames) {
    EXPECT_EQ(lock_mode_name(8), "ACCESS EXCLUSIVE");
    EXPECT_EQ(lock_mode_name(6), "SHARE ROW EXCLUSIVE");
    EXPECT_EQ(lock_mode_name(4), "SHARE UPDATE EXCLUSIVE");
    EXPECT_EQ(lock_mode_name(9), "unknown");
}

TEST(DdlGuard, PrettyFigures) {
    EXPECT_EQ(pretty_bytes(512), "512 bytes");
    EXPECT_EQ(pretty_bytes(300 * MB), "300 MB");
    EXPECT_EQ(pretty_bytes(20 * 1024 * MB), "20 GB");
    EXPECT_EQ(pretty_seconds(0.2), "under a second");
    EXPECT_EQ(pretty_seconds(6.4), "about 6 s");
    EXPECT_EQ(pretty_seconds(600), "about 10 min");
}

TEST(DdlGuard, PlainAddColumnIsCatalogOnly) {
    Command c = add_column("status", "text");
    Effect e = assess(table(), c);
    EXPECT_FALSE(e.heavy());
    EXPECT_TRUE(contains(e.what, "catalog only"));
    Verdict v = decide(with(c), Mode::guard, 10 * MB);
    EXPECT_EQ(v.action, Action::run_guarded);
    EXPECT_EQ(decide(with(c), Mode::warn, 10 * MB).action, Action::run);
    EXPECT_EQ(decide(with(c), Mode::off, 10 * MB).action, Action::run);
    EXPECT_EQ(decide(with(c), Mode::stage, 10 * MB).action, Action::run_guarded);
}

TEST(DdlGuard, NonVolatileDefaultAndNotNullIsCatalogOnly) {
    Command c = add_column("status", "text");
    c.default_expr = "'active'::text";
    c.not_null = true;
    EXPECT_FALSE(assess(table(), c).heavy());
}

TEST(DdlGuard, VolatileDefaultIsRefusedInGuardWithTheExactCall) {
    Command c = add_column("token", "uuid");
    c.default_expr = "gen_random_uuid()";
    c.default_volatile = true;
    c.not_null = true;
    Effect e = assess(table(), c);
    EXPECT_TRUE(e.rewrite);
    EXPECT_TRUE(e.backfill);
    EXPECT_GT(e.seconds, 1.0);
    Verdict v = decide(with(c), Mode::guard, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_EQ(v.message, "this ALTER TABLE would rewrite table \"users\" under ACCESS EXCLUSIVE lock");
    EXPECT_TRUE(contains(v.detail, "gen_random_uuid() is volatile")) << v.detail;
    EXPECT_TRUE(contains(v.detail, "300 MB")) << v.detail;
    EXPECT_TRUE(contains(v.hint, "SELECT safe_add_column('public.users', 'token', 'uuid', default_expr => "
                                 "'gen_random_uuid()', not_null => true);"))
        << v.hint;
    EXPECT_TRUE(contains(v.hint, "SET safe_column.mode = off")) << v.hint;
}

TEST(DdlGuard, BelowTheSizeThresholdOnlyTheLockIsGuarded) {
    Command c = add_column("token", "uuid");
    c.default_expr = "gen_random_uuid()";
    c.default_volatile = true;
    EXPECT_EQ(decide(with(c, 5 * MB), Mode::guard, 10 * MB).action, Action::run_guarded);
    EXPECT_TRUE(decide(with(c, 5 * MB), Mode::guard, 10 * MB).below_min_size);
    EXPECT_EQ(decide(with(c, 5 * MB), Mode::stage, 10 * MB).action, Action::run_guarded);
    EXPECT_EQ(decide(with(c, 10 * MB), Mode::guard, 10 * MB).action, Action::refuse);
    // warn mode warns whatever the size
    Verdict w = decide(with(c, 5 * MB), Mode::warn, 10 * MB);
    EXPECT_EQ(w.action, Action::warn);
    EXPECT_EQ(w.message, "this ALTER TABLE will rewrite table \"users\" under ACCESS EXCLUSIVE lock");
    EXPECT_TRUE(contains(w.hint, "safe_add_column"));
}

TEST(DdlGuard, StageModeStagesWhatSafeAddColumnCanDo) {
    Command c = add_column("token", "uuid");
    c.default_expr = "gen_random_uuid()";
    c.default_volatile = true;
    EXPECT_EQ(decide(with(c), Mode::stage, 10 * MB).action, Action::stage);

    Statement two = with(c);
    two.cmds.push_back(add_column("status", "text"));
    EXPECT_EQ(decide(two, Mode::stage, 10 * MB).action, Action::stage);

    Command unique = c;
    unique.unique = true;
    unique.unique_name = "users_token_key";
    // A UNIQUE of the column's own is staged (the worker builds its index concurrently)...
    Verdict staged = decide(with(unique), Mode::stage, 10 * MB);
    EXPECT_EQ(staged.action, Action::stage);
    SafeWay way = safe_way(with(unique), unique);
    EXPECT_TRUE(way.stageable);
    EXPECT_TRUE(contains(way.steps.front().sql, "unique_key => true")) << way.steps.front().sql;
    // ... but not with INCLUDE / WITH / a tablespace, nor on a partitioned table: the refusal names the
    // steps to run by hand.
    Command options = unique;
    options.index_options = true;
    Verdict v = decide(with(options), Mode::stage, 10 * MB);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.hint, "CREATE UNIQUE INDEX CONCURRENTLY users_token_key ON public.users (token)")) << v.hint;
    EXPECT_TRUE(contains(v.hint, "stages ADD COLUMN statements only")) << v.hint;
    Statement partitioned = with(unique);
    partitioned.partitioned = true;
    EXPECT_EQ(decide(partitioned, Mode::stage, 10 * MB).action, Action::refuse);
    // A primary key: safe_add_column's primary_key, NOT NULL enforced before the index.
    Command pk = c;
    pk.primary_key = true;
    pk.unique_name = "users_pkey";
    EXPECT_EQ(decide(with(pk), Mode::stage, 10 * MB).action, Action::stage);
    EXPECT_TRUE(contains(safe_way(with(pk), pk).steps.front().sql, "primary_key => true"));
    // DEFERRABLE or a name: stage mode takes them, safe_add_column does not (the plan shows the steps).
    Command deferred = unique;
    deferred.unique_attributes = " DEFERRABLE INITIALLY DEFERRED";
    EXPECT_EQ(decide(with(deferred), Mode::stage, 10 * MB).action, Action::stage);
    SafeWay by_hand = safe_way(with(deferred), deferred);
    EXPECT_FALSE(contains(by_hand.steps.front().sql, "unique_key")) << by_hand.steps.front().sql;
    EXPECT_TRUE(contains(by_hand.steps.back().sql, "USING INDEX users_token_key DEFERRABLE INITIALLY DEFERRED"))
        << by_hand.steps.back().sql;

    Statement mixed = with(c);
    Command nn;
    nn.kind = Kind::set_not_null;
    nn.column = "email";
    nn.constraint = "users_email_not_null";
    mixed.cmds.push_back(nn);
    EXPECT_EQ(decide(mixed, Mode::stage, 10 * MB).action, Action::refuse);
}

// A column's own CHECK and REFERENCES are staged with it (the worker adds them NOT VALID once the
// column is filled and validates them), with a backfill or without one; a CHECK whose text the hook
// could not find is not.
TEST(DdlGuard, StageModeStagesInlineCheckAndReferences) {
    Command chk = add_column("qty", "integer");
    chk.default_expr = "0";
    chk.not_null = true;
    chk.check = "qty >= 0";
    chk.check_name = "users_qty_check";
    EXPECT_EQ(decide(with(chk), Mode::stage, 10 * MB).action, Action::stage);

    // Without a default every row is NULL: PostgreSQL checks nothing, the statement runs as sent.
    Command fk = add_column("owner_id", "bigint");
    fk.references = "accounts (id)";
    fk.fk_name = "users_owner_id_fkey";
    EXPECT_EQ(decide(with(fk), Mode::stage, 10 * MB).action, Action::run_guarded);

    Command filled = fk;
    filled.default_expr = "(random() * 10)::bigint";
    filled.default_volatile = true;
    filled.check = "owner_id > 0";
    filled.check_name = "users_owner_id_check";
    EXPECT_EQ(decide(with(filled), Mode::stage, 10 * MB).action, Action::stage);

    Command unknown = chk;
    unknown.check = "...";
    EXPECT_EQ(decide(with(unknown), Mode::stage, 10 * MB).action, Action::refuse);

    // Guard mode still refuses them as sent (a scan under the lock), with the one safe_add_column call
    // that stages them as advice.
    Verdict g = decide(with(chk), Mode::guard, 10 * MB);
    EXPECT_EQ(g.action, Action::refuse);
    EXPECT_TRUE(contains(g.hint, "Run instead: SELECT safe_add_column('public.users', 'qty', 'integer', "
                                 "default_expr => '0', not_null => true, check_expr => 'qty >= 0');"))
        << g.hint;
    EXPECT_FALSE(contains(g.hint, "NOT VALID")) << g.hint;
    g = decide(with(filled), Mode::guard, 10 * MB);
    EXPECT_TRUE(contains(g.hint, "check_expr => 'owner_id > 0', references_clause => 'accounts (id)')")) << g.hint;
    // A name written after CONSTRAINT: safe_add_column takes none, so that one gets its own steps.
    Command named = chk;
    named.check_named = true;
    g = decide(with(named), Mode::guard, 10 * MB);
    EXPECT_FALSE(contains(g.hint, "check_expr")) << g.hint;
    EXPECT_TRUE(contains(g.hint, "ADD CONSTRAINT users_qty_check CHECK (qty >= 0) NOT VALID")) << g.hint;
}

TEST(DdlGuard, RewritingFormsWithoutAStagedEquivalent) {
    Command ident = add_column("n", "bigint");
    ident.identity = true;
    ident.sequence = "public.users_n_seq";
    // An identity column without sequence options is staged; guard refuses it and says so.
    EXPECT_EQ(decide(with(ident), Mode::stage, 10 * MB).action, Action::stage);
    Verdict g = decide(with(ident), Mode::guard, 10 * MB);
    EXPECT_EQ(g.action, Action::refuse);
    EXPECT_TRUE(contains(g.hint, "Stage mode (SET safe_column.mode = stage) adds it completely")) << g.hint;
    // With sequence options it is not.
    ident.identity_options = true;
    Verdict v = decide(with(ident), Mode::stage, 10 * MB);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.detail, "identity column")) << v.detail;
    EXPECT_TRUE(contains(v.hint, "CREATE SEQUENCE public.users_n_seq AS bigint;")) << v.hint;
    EXPECT_TRUE(contains(v.hint, "nextval(''public.users_n_seq''::regclass)")) << v.hint;
    EXPECT_TRUE(contains(v.hint, "with sequence options has no staged form")) << v.hint;

    Command gen = add_column("lower_email", "text");
    gen.generated = true;
    v = decide(with(gen), Mode::guard, 10 * MB);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.hint, "stored generated column has no staged equivalent")) << v.hint;

    Command dom = add_column("p", "positive_int");
    dom.domain_constraints = true;
    v = decide(with(dom), Mode::guard, 10 * MB);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.detail, "domain with constraints")) << v.detail;
}

// A serial column is staged: its sequence, the column with nextval() and NOT NULL as a job, OWNED BY;
// with its UNIQUE / PRIMARY KEY too (the job's index step). The safe way lists the index's steps.
TEST(DdlGuard, SerialIsStagedWithoutConstraints) {
    Command serial = add_column("n", "bigint");
    serial.serial = true;
    serial.sequence = "public.users_n_seq";
    EXPECT_EQ(decide(with(serial), Mode::stage, 10 * MB).action, Action::stage);
    Verdict g = decide(with(serial), Mode::guard, 10 * MB);
    EXPECT_EQ(g.action, Action::refuse);
    EXPECT_TRUE(contains(g.hint, "CREATE SEQUENCE public.users_n_seq AS bigint; SELECT safe_add_column('public.users', "
                                 "'n', 'bigint', default_expr => 'nextval(''public.users_n_seq''::regclass)', "
                                 "not_null => true); ALTER SEQUENCE public.users_n_seq OWNED BY public.users.n;"))
        << g.hint;

    Command pk = serial;
    pk.primary_key = true;
    pk.unique_name = "users_pkey";
    // bigserial PRIMARY KEY: staged too (its index is the job's last step); guard's hint lists the steps.
    EXPECT_EQ(decide(with(pk), Mode::stage, 10 * MB).action, Action::stage);
    Verdict v = decide(with(pk), Mode::guard, 10 * MB);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.hint, "CREATE UNIQUE INDEX CONCURRENTLY users_pkey ON public.users (n)")) << v.hint;
    EXPECT_TRUE(contains(v.hint, "ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_pkey")) << v.hint;
    // With INCLUDE / WITH / a tablespace it is not.
    Command options = pk;
    options.index_options = true;
    EXPECT_EQ(decide(with(options), Mode::stage, 10 * MB).action, Action::refuse);
}

TEST(DdlGuard, NotNullWithoutDefault) {
    Command c = add_column("code", "text");
    c.not_null = true;
    Effect e = assess(table(), c);
    EXPECT_TRUE(e.fails);
    Verdict v = decide(with(c), Mode::guard, 10 * MB);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_EQ(v.message, "this ALTER TABLE would scan table \"users\" under ACCESS EXCLUSIVE lock");
    EXPECT_TRUE(contains(v.hint, "backfill_expr")) << v.hint;

    Statement empty = with(c);
    empty.has_rows = false;
    EXPECT_FALSE(assess(empty, c).heavy());
}

TEST(DdlGuard, SetNotNullTheSafeWay) {
    Command c;
    c.kind = Kind::set_not_null;
    c.column = "email";
    c.constraint = "users_email_not_null";
    Verdict v = decide(with(c), Mode::guard, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.hint, "ALTER TABLE public.users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT "
                                 "NULL) NOT VALID; ALTER TABLE public.users VALIDATE CONSTRAINT users_email_not_null; "
                                 "ALTER TABLE public.users ALTER COLUMN email SET NOT NULL; ALTER TABLE public.users "
                                 "DROP CONSTRAINT IF EXISTS users_email_not_null;"))
        << v.hint;
    c.implied_by_check = true;
    EXPECT_EQ(decide(with(c), Mode::guard, 10 * MB).action, Action::run_guarded);
    c.implied_by_check = false;
    c.already_not_null = true;
    EXPECT_EQ(decide(with(c), Mode::guard, 10 * MB).action, Action::run_guarded);
}

// PostgreSQL 18 and later: the safe way is the server's own NOT NULL NOT VALID, then VALIDATE.
TEST(DdlGuard, SetNotNullTheSafeWayFrom18) {
    Command c;
    c.kind = Kind::set_not_null;
    c.column = "email";
    c.constraint = "users_email_not_null";
    Statement s = with(c);
    s.not_null_not_valid = true;
    Verdict v = decide(s, Mode::guard, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.hint, "ALTER TABLE public.users ADD CONSTRAINT users_email_not_null NOT NULL email NOT "
                                 "VALID; ALTER TABLE public.users VALIDATE CONSTRAINT users_email_not_null;"))
        << v.hint;
    EXPECT_FALSE(contains(v.hint, "CHECK")) << v.hint;
    EXPECT_FALSE(contains(v.hint, "SET NOT NULL")) << v.hint;

    // Written as ADD CONSTRAINT ... NOT NULL: the same scan, the same safe way; NOT VALID is catalog only.
    c.as_constraint = true;
    s = with(c);
    s.not_null_not_valid = true;
    v = decide(s, Mode::guard, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.detail, "ADD CONSTRAINT users_email_not_null NOT NULL email scans every row")) << v.detail;
    c.not_valid = true;
    s = with(c);
    s.not_null_not_valid = true;
    EXPECT_EQ(decide(s, Mode::guard, 10 * MB).action, Action::run_guarded);
    EXPECT_FALSE(assess(s, c).heavy());

    Command add = add_column("code", "text");
    add.not_null = true;
    add.default_expr = "gen_code()";
    add.default_volatile = true;
    s = with(add);
    s.not_null_not_valid = true;
    std::string notes;
    for (const PlanStep &p : plan(s, "ALTER TABLE users ADD COLUMN code text NOT NULL DEFAULT gen_code()"))
        notes += p.note + "\n";
    EXPECT_TRUE(contains(notes, "enforces NOT NULL with NOT NULL NOT VALID, VALIDATE")) << notes;
}

TEST(DdlGuard, ConstraintsNotValidAndConcurrently) {
    Command chk;
    chk.kind = Kind::add_check;
    chk.constraint = "positive";
    chk.expr = "id > 0";
    Verdict v = decide(with(chk), Mode::guard, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.hint, "ADD CONSTRAINT positive CHECK (id > 0) NOT VALID; ALTER TABLE public.users VALIDATE "
                                 "CONSTRAINT positive;"))
        << v.hint;
    chk.not_valid = true;
    EXPECT_EQ(decide(with(chk), Mode::guard, 10 * MB).action, Action::run_guarded);

    Command fk;
    fk.kind = Kind::add_foreign_key;
    fk.lockmode = 6;
    fk.constraint = "users_org_fkey";
    fk.keys = "(org_id)";
    fk.fk_target = "public.orgs (id)";
    v = decide(with(fk), Mode::guard, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_EQ(v.message, "this ALTER TABLE would scan table \"users\" under SHARE ROW EXCLUSIVE lock");
    EXPECT_TRUE(contains(v.detail, "every write to the table waits")) << v.detail;
    EXPECT_TRUE(contains(v.hint, "FOREIGN KEY (org_id) REFERENCES public.orgs (id) NOT VALID;")) << v.hint;

    Command uq;
    uq.kind = Kind::add_unique;
    uq.constraint = "users_email_key";
    uq.keys = "(email)";
    v = decide(with(uq), Mode::guard, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_EQ(v.message, "this ALTER TABLE would build an index on table \"users\" under ACCESS EXCLUSIVE lock");
    EXPECT_TRUE(contains(v.hint, "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON public.users (email); ALTER "
                                 "TABLE public.users ADD CONSTRAINT users_email_key UNIQUE USING INDEX "
                                 "users_email_key;"))
        << v.hint;
    // DEFERRABLE goes with the constraint (an index has none)
    uq.unique_attributes = " DEFERRABLE INITIALLY DEFERRED";
    v = decide(with(uq), Mode::guard, 10 * MB);
    EXPECT_TRUE(contains(v.hint, "ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key DEFERRABLE "
                                 "INITIALLY DEFERRED;"))
        << v.hint;
    uq.using_index = true;
    EXPECT_EQ(decide(with(uq), Mode::guard, 10 * MB).action, Action::run_guarded);
}

TEST(DdlGuard, TheStrictestSubcommandDecides) {
    Statement s = table();
    s.cmds.push_back(add_column("a", "text"));
    Command c = add_column("b", "uuid");
    c.default_expr = "gen_random_uuid()";
    c.default_volatile = true;
    s.cmds.push_back(c);
    Verdict v = decide(s, Mode::guard, 10 * MB);
    EXPECT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.detail, "strictest subcommand")) << v.detail;
    EXPECT_TRUE(contains(v.hint, "Run the other subcommands as their own ALTER TABLE")) << v.hint;
}

TEST(DdlGuard, PlanListsBothWays) {
    Command c = add_column("token", "uuid");
    c.default_expr = "gen_random_uuid()";
    c.default_volatile = true;
    c.not_null = true;
    std::vector<PlanStep> steps = plan(with(c), "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()");
    ASSERT_EQ(steps.size(), 3u);
    EXPECT_EQ(steps[0].approach, "as sent");
    EXPECT_TRUE(steps[0].rewrite);
    EXPECT_EQ(steps[0].lockmode, 8);
    EXPECT_EQ(steps[1].approach, "safe_column");
    EXPECT_TRUE(contains(steps[1].sql, "safe_add_column("));
    EXPECT_FALSE(steps[1].rewrite);
    EXPECT_EQ(steps[2].lockmode, 3);
    EXPECT_FALSE(steps[2].seconds.has_value());

    std::vector<PlanStep> plain = plan(with(add_column("s", "text")), "ALTER TABLE users ADD COLUMN s text");
    ASSERT_EQ(plain.size(), 2u);
    EXPECT_EQ(plain[1].sql, "ALTER TABLE users ADD COLUMN s text");
    EXPECT_TRUE(contains(plain[1].note, "queue-safely"));
}

TEST(DdlGuard, ParenthesizedAfter) {
    EXPECT_EQ(parenthesized_after("CHECK (a > 0) NOT VALID", 0), "a > 0");
    EXPECT_EQ(parenthesized_after("CONSTRAINT \"we(ird\" CHECK ((a) > (0))", 0), "(a) > (0)");
    EXPECT_EQ(parenthesized_after("CHECK (b <> ')' AND c = 'it''s')", 0), "b <> ')' AND c = 'it''s'");
    EXPECT_EQ(parenthesized_after("CHECK /* ( */ (x -- )\n > 1)", 0), "x -- )\n > 1");
    EXPECT_EQ(parenthesized_after("CHECK (d <> $q$)$q$)", 0), "d <> $q$)$q$");
    EXPECT_EQ(parenthesized_after("no parens", 0), "");
    EXPECT_EQ(parenthesized_after("x (unbalanced", 0), "");
    EXPECT_EQ(parenthesized_after("(first) (second)", 7), "second");
}

TEST(DdlGuard, AlterColumnTypeThatConvertsIsRefusedWithTheExpandContractWay) {
    Command c = alter_type("amount", "bigint", true);
    Effect e = assess(table(), c);
    EXPECT_TRUE(e.rewrite);
    EXPECT_GT(e.seconds, 0);
    EXPECT_TRUE(contains(e.what, "ALTER COLUMN amount TYPE bigint rewrites the whole table and its indexes (340 MB)"))
        << e.what;

    Verdict v = decide(with(c), Mode::guard, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_EQ(v.message, "this ALTER TABLE would rewrite table \"users\" under ACCESS EXCLUSIVE lock");
    EXPECT_TRUE(contains(v.hint, "SELECT safe_add_column('public.users', 'amount_new', 'bigint', backfill_expr => "
                                 "'amount::bigint');"))
        << v.hint;
    EXPECT_TRUE(contains(v.hint, "create a trigger that sets amount_new from amount")) << v.hint;
    // Not stageable: stage mode refuses it too, and says why.
    v = decide(with(c), Mode::stage, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.hint, "stages ADD COLUMN statements only")) << v.hint;
    EXPECT_EQ(decide(with(c), Mode::warn, 10 * MB).action, Action::warn);
    EXPECT_EQ(decide(with(c, 5 * MB), Mode::guard, 10 * MB).action, Action::run_guarded);

    // A USING expression is the backfill expression, quoted as a literal.
    c.using_expr = "round(amount, 2) * 'x'";
    v = decide(with(c), Mode::guard, 10 * MB);
    EXPECT_TRUE(contains(v.hint, "backfill_expr => 'round(amount, 2) * ''x''')")) << v.hint;

    std::vector<PlanStep> steps = plan(with(c), "ALTER TABLE users ALTER COLUMN amount TYPE bigint USING ...");
    ASSERT_EQ(steps.size(), 4u);
    EXPECT_TRUE(steps[0].rewrite);
    EXPECT_EQ(steps[1].lockmode, 8);
    EXPECT_TRUE(steps[2].sql.empty());
    EXPECT_EQ(steps[3].approach, "advice");
}

TEST(DdlGuard, AlterColumnTypeThatKeepsTheValuesRuns) {
    Command c = alter_type("label", "character varying(20)", false);
    Effect e = assess(table(), c);
    EXPECT_FALSE(e.heavy());
    EXPECT_TRUE(contains(e.what, "keeps the stored values as they are")) << e.what;
    EXPECT_EQ(decide(with(c), Mode::guard, 10 * MB).action, Action::run_guarded);
    EXPECT_EQ(decide(with(c), Mode::warn, 10 * MB).action, Action::run);
}

TEST(DdlGuard, TablespacePersistenceAndExclusionAreRefusedWithAdvice) {
    Command ts;
    ts.kind = Kind::set_tablespace;
    ts.target = "fast_disk";
    Verdict v = decide(with(ts), Mode::guard, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.detail, "SET TABLESPACE fast_disk copies the whole table (300 MB)")) << v.detail;
    EXPECT_TRUE(contains(v.hint, "no online form")) << v.hint;

    Command lg;
    lg.kind = Kind::set_persistence;
    lg.target = "LOGGED";
    v = decide(with(lg), Mode::guard, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_TRUE(contains(v.detail, "SET LOGGED rewrites the whole table and its indexes (340 MB)")) << v.detail;
    EXPECT_TRUE(contains(v.detail, "to the WAL")) << v.detail;
    lg.target = "UNLOGGED";
    EXPECT_FALSE(contains(assess(table(), lg).what, "WAL"));

    Command ex;
    ex.kind = Kind::add_exclusion;
    ex.constraint = "no_overlap";
    v = decide(with(ex), Mode::guard, 10 * MB);
    ASSERT_EQ(v.action, Action::refuse);
    EXPECT_EQ(v.message, "this ALTER TABLE would build an index on table \"users\" under ACCESS EXCLUSIVE lock");
    EXPECT_TRUE(contains(v.hint, "no USING INDEX form")) << v.hint;
    EXPECT_EQ(decide(with(ex, 5 * MB), Mode::guard, 10 * MB).action, Action::run_guarded);
}

TEST(KeywordAt, FindsTheWordOutsideQuotes) {
    EXPECT_EQ(keyword_at("text COLLATE \"C\"", "COLLATE"), 5u);
    EXPECT_EQ(keyword_at("text collate pg_catalog.\"default\"", "COLLATE"), 5u);
    EXPECT_EQ(keyword_at("\"my collate type\"", "COLLATE"), std::string::npos);
    EXPECT_EQ(keyword_at("\"a\"\"collate\" COLLATE x", "COLLATE"), 13u);
    EXPECT_EQ(keyword_at("collated_text", "COLLATE"), std::string::npos);
    EXPECT_EQ(keyword_at("character varying(20)", "COLLATE"), std::string::npos);
    EXPECT_EQ(keyword_at("", "COLLATE"), std::string::npos);
    EXPECT_EQ(keyword_at("text -- COLLATE \"C\"", "COLLATE"), std::string::npos);
    EXPECT_EQ(keyword_at("text /* a /* COLLATE */ b */ x", "COLLATE"), std::string::npos);
    EXPECT_EQ(keyword_at("text /* c */ COLLATE \"C\"", "COLLATE"), 13u);
    EXPECT_EQ(keyword_at("text --\nCOLLATE \"C\"", "COLLATE"), 8u);
}
