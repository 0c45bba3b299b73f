// The decision table for CREATE INDEX, DROP INDEX and REINDEX (see index_guard.hpp). The facts of
// PostgreSQL's indexcmds.c and tablecmds.c (RangeVarCallbackForDropRelation) it relies on: CREATE
// INDEX takes SHARE on the table for the whole build (writes wait; on a partitioned table, on every
// partition); REINDEX takes SHARE on the table and ACCESS EXCLUSIVE on each index it rebuilds (and
// the planner locks every index of a table it plans a query on, so reads wait too); DROP INDEX takes
// ACCESS EXCLUSIVE on the table, briefly. Their CONCURRENTLY forms take SHARE UPDATE EXCLUSIVE.
#include "index_guard.hpp"

#include <boost/format.hpp>
#include <cctype>

namespace sc::ddl {

namespace {

constexpr int share_update_exclusive = 4;
constexpr int share = 5;
constexpr int access_exclusive = 8;

// A word of the statement's head: its place in the text and its upper-case spelling. A parenthesized
// group (REINDEX's options) is one token spelled "(".
struct Token {
    std::size_t end = 0;
    std::string upper;
};

// Skips whitespace and comments from i; the position of the next token.
std::size_t skip_blank(const std::string &sql, std::size_t i) {
    const std::size_t n = sql.size();
    while (i < n) {
        if (std::isspace(static_cast<unsigned char>(sql[i]))) {
            i++;
        } else if (sql.compare(i, 2, "--") == 0 || sql.compare(i, 2, "/*") == 0) {
            i = skip_comment(sql, i);
        } else {
            break;
        }
    }
    return i;
}

std::vector<Token> head_tokens(const std::string &sql, std::size_t count) {
    std::vector<Token> out;
    std::size_t i = 0;
    while (out.size() < count) {
        i = skip_blank(sql, i);
        if (i >= sql.size())
            break;
        Token t;
        if (sql[i] == '(') {
            std::string inner = parenthesized_after(sql, i);
            i += inner.size() + 2;
            t.upper = "(";
        } else if (std::isalpha(static_cast<unsigned char>(sql[i])) || sql[i] == '_') {
            while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_' || sql[i] == '$'))
                t.upper += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
        } else {
            break;
        }
        t.end = i;
        out.push_back(t);
    }
    return out;
}

bool is_create_index(const IndexStatement &s) { return s.verb == IndexVerb::create; }

std::string statement_name(const IndexStatement &s) {
    switch (s.verb) {
    case IndexVerb::create:
        return s.unique ? "CREATE UNIQUE INDEX" : "CREATE INDEX";
    case IndexVerb::drop:
        return "DROP INDEX";
    case IndexVerb::reindex:
        return s.whole_table ? "REINDEX TABLE" : "REINDEX INDEX";
    }
    return "?";
}

// The advice for a partitioned table, where CREATE INDEX CONCURRENTLY is refused.
std::string partitioned_advice(const IndexStatement &s) {
    return (boost::format("CREATE INDEX CONCURRENTLY cannot build an index on a partitioned table. Instead, create "
                          "the index on %1% alone with CREATE INDEX ... ON ONLY %2% (brief; the index stays invalid "
                          "until every partition has its own), build each partition's index with CREATE INDEX "
                          "CONCURRENTLY, and attach each with ALTER INDEX ... ATTACH PARTITION.") %
            s.table_name % s.table)
        .str();
}

// The safe statements, in order; empty advice when they say it all.
std::vector<PlanStep> safe_steps(const IndexStatement &s, std::string &advice) {
    std::vector<PlanStep> steps;
    PlanStep p;
    p.approach = "safe_column";
    if (s.verb == IndexVerb::drop || !assess_index(s).heavy()) {
        p.sql = s.sql;
        p.lockmode = index_lockmode(s);
        p.seconds = 0.0;
        p.note = "as sent, its lock taken queue-safely: short attempts with backoff, so the application's queries "
                 "never queue behind it";
        steps.push_back(p);
        return steps;
    }
    if (s.verb == IndexVerb::create && s.partitioned) {
        advice = partitioned_advice(s);
        return steps;
    }
    p.sql = with_concurrently(s.sql);
    if (p.sql.empty()) {
        advice = "Run it with CONCURRENTLY, outside a transaction block.";
        return steps;
    }
    p.lockmode = share_update_exclusive;
    p.index_build = true;
    // CONCURRENTLY reads the table twice and waits for the transactions that could see it.
    p.seconds = 2.0 * s.index_count * index_build_seconds(s.table_bytes);
    p.note = "outside a transaction block: builds while reads and writes go on; if it fails, it leaves an invalid "
             "index behind, to drop with DROP INDEX CONCURRENTLY before trying again";
    steps.push_back(p);
    if (s.verb == IndexVerb::create && s.unique && s.constraint_capable && !s.index.empty()) {
        PlanStep c;
        c.approach = "safe_column";
        c.sql = (boost::format("ALTER TABLE %1% ADD CONSTRAINT %2% UNIQUE USING INDEX %2%") % s.table % s.index).str();
        c.lockmode = access_exclusive;
        c.seconds = 0.0;
        c.note = "only if the index should back a UNIQUE constraint: brief, the index exists";
        steps.push_back(c);
    }
    return steps;
}

}  // namespace

int index_lockmode(const IndexStatement &s) {
    if (s.concurrent)
        return share_update_exclusive;
    switch (s.verb) {
    case IndexVerb::create:
        return share;
    case IndexVerb::drop:
        return access_exclusive;
    case IndexVerb::reindex:
        return access_exclusive;  // on the indexes: every query planned on the table waits
    }
    return access_exclusive;
}

Effect assess_index(const IndexStatement &s) {
    Effect e;
    e.lockmode = index_lockmode(s);
    const std::string name = statement_name(s);
    if (s.concurrent) {
        e.what = name + " CONCURRENTLY works while reads and writes go on.";
        return e;
    }
    switch (s.verb) {
    case IndexVerb::create:
        if (s.only_parent) {
            e.what = name + " ON ONLY a partitioned table creates an invalid index on the table alone: catalog "
                            "only, its SHARE lock brief.";
            break;
        }
        e.index_build = true;
        e.seconds = index_build_seconds(s.table_bytes);
        e.what = name + " holds SHARE lock on " + (s.partitioned ? "every partition of the table" : "the table") +
                 " for the whole build: every INSERT, UPDATE and DELETE waits until the index is built.";
        break;
    case IndexVerb::drop:
        e.what = name + " takes ACCESS EXCLUSIVE lock on the table, briefly.";
        break;
    case IndexVerb::reindex:
        e.index_build = true;
        e.seconds = s.index_count * index_build_seconds(s.table_bytes);
        e.what = (boost::format("%1% rebuilds %2% under SHARE lock on the table and ACCESS EXCLUSIVE lock on %3%: "
                                "writes wait, and so does every query planned on the table (the planner opens all "
                                "its indexes).") %
                  name % (s.index_count == 1 ? std::string("one index") : std::to_string(s.index_count) + " indexes") %
                  (s.index_count == 1 ? "it" : "each"))
                     .str();
        break;
    }
    return e;
}

bool index_stageable(const IndexStatement &s) {
    return is_create_index(s) && !s.concurrent && !s.partitioned && !s.only_parent && !s.index.empty();
}

Verdict decide_index(const IndexStatement &s, Mode mode, std::int64_t min_bytes) {
    Verdict v;
    if (mode == Mode::off || s.concurrent)
        return v;
    Effect e = assess_index(s);
    if (!e.heavy()) {
        v.action = mode == Mode::warn ? Action::run : Action::run_guarded;
        return v;
    }
    const bool create = is_create_index(s);
    std::string what = create ? "block writes to table " + s.table_name + " while it builds the index"
                              : "block reads and writes of table " + s.table_name + " while it rebuilds indexes";
    std::string detail = e.what + (boost::format(" Table %1% holds %2% of data; estimated time under the lock: %3%.") %
                                   s.table_name % pretty_bytes(s.table_bytes) % pretty_seconds(e.seconds))
                                      .str();
    std::string advice;
    std::vector<PlanStep> steps = safe_steps(s, advice);
    std::string hint;
    if (!steps.empty())
        hint = "Run instead, outside a transaction block: " + join_sql(steps) +
               (steps.size() > 1 ? " (the second only if the index should back a UNIQUE constraint)." : "");
    if (!advice.empty())
        hint += (hint.empty() ? "" : " ") + advice;
    if (mode == Mode::warn) {
        v.action = Action::warn;
        v.message = "this " + statement_name(s) + " will " + what;
        v.detail = detail;
        v.hint = hint;
        return v;
    }
    if (s.table_bytes < min_bytes) {
        v.action = Action::run_guarded;
        v.below_min_size = true;
        return v;
    }
    if (mode == Mode::stage && index_stageable(s)) {
        v.action = Action::stage;
        return v;
    }
    v.action = Action::refuse;
    v.message = "this " + statement_name(s) + " would " + what;
    v.detail = detail;
    if (mode == Mode::stage)
        hint += create ? " safe_column.mode = stage stages a CREATE INDEX that names its index, on a table that is "
                         "not partitioned (a partitioned table's index cannot be built concurrently)."
                       : " safe_column.mode = stage stages ADD COLUMN and CREATE INDEX statements; DROP INDEX and "
                         "REINDEX are guarded as in guard mode.";
    hint += " To run it as sent anyway, SET safe_column.mode = off for this transaction (SET LOCAL).";
    v.hint = capitalized(hint);
    return v;
}

std::vector<PlanStep> plan_index(const IndexStatement &s) {
    std::vector<PlanStep> out;
    Effect e = assess_index(s);
    PlanStep as_sent;
    as_sent.approach = "as sent";
    as_sent.sql = s.sql;
    as_sent.lockmode = e.lockmode;
    as_sent.index_build = e.index_build;
    as_sent.seconds = e.seconds;
    as_sent.note = e.what;
    out.push_back(as_sent);
    if (s.concurrent)
        return out;
    std::string advice;
    for (const PlanStep &p : safe_steps(s, advice))
        out.push_back(p);
    if (!advice.empty()) {
        PlanStep a;
        a.approach = "advice";
        a.note = advice;
        out.push_back(a);
    }
    return out;
}

std::string with_concurrently(const std::string &sql) {
    std::vector<Token> t = head_tokens(sql, 4);
    std::size_t at = 0;  // the token after which CONCURRENTLY goes
    if (t.size() >= 2 && t[0].upper == "CREATE" && t[1].upper == "INDEX")
        at = 1;
    else if (t.size() >= 3 && t[0].upper == "CREATE" && t[1].upper == "UNIQUE" && t[2].upper == "INDEX")
        at = 2;
    else if (t.size() >= 2 && t[0].upper == "DROP" && t[1].upper == "INDEX")
        at = 1;
    else if (t.size() >= 2 && t[0].upper == "REINDEX" && (t[1].upper == "INDEX" || t[1].upper == "TABLE"))
        at = 1;
    else if (t.size() >= 3 && t[0].upper == "REINDEX" && t[1].upper == "(" &&
             (t[2].upper == "INDEX" || t[2].upper == "TABLE"))
        at = 2;
    else
        return {};
    if (t.size() > at + 1 && t[at + 1].upper == "CONCURRENTLY")
        return sql;
    return sql.substr(0, t[at].end) + " CONCURRENTLY" + sql.substr(t[at].end);
}

}  // namespace sc::ddl
