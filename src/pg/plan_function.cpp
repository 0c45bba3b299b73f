// safe_column_plan(ddl text): what an ALTER TABLE (or CREATE INDEX, DROP INDEX, REINDEX) would do as sent, and what safe_column would do
// instead, from the same facts and the same core decision as the hook (hook_facts); runs nothing.
#include "pg/guard.hpp"
#include "pg/hook.hpp"
#include "pg/forecast.hpp"
#include "pg/hook_facts.hpp"
#include "pg/index_hook.hpp"
#include "pg/publications.hpp"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/heap.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/tablecmds.h"
#include "commands/tablespace.h"
#include "executor/spi.h"
#include "utils/tuplestore.h"
#include "miscadmin.h"
#include "funcapi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_collate.h"
#include "parser/parse_coerce.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parse_type.h"
#include "parser/parser.h"
#include "postmaster/bgworker.h"
#include "utils/backend_status.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include <signal.h>
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
}

namespace sc::pg {

namespace {

// Errors in the statement given to safe_column_plan point into that statement (QUERY: ... in psql),
// not into the caller's SELECT.
void plan_error_callback(void *arg) {
    int pos = geterrposition();
    if (pos > 0) {
        errposition(0);
        internalerrposition(pos);
        internalerrquery(static_cast<const char *>(arg));
    }
}

// The one statement in ddl (its errors point into the statement while cb is on the stack).
Node *parse_one(const char *ddl) {
    List *stmts = raw_parser(ddl, RAW_PARSE_DEFAULT);
    if (list_length(stmts) != 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("safe_column_plan explains exactly one statement, not %d", list_length(stmts)),
                        errhint("Pass one ALTER TABLE, CREATE INDEX, DROP INDEX or REINDEX statement.")));
    Node *stmt = linitial_node(RawStmt, stmts)->stmt;
    if (is_index_statement(stmt))
        return stmt;
    if (!IsA(stmt, AlterTableStmt) || castNode(AlterTableStmt, stmt)->objtype != OBJECT_TABLE)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("safe_column_plan explains ALTER TABLE and index statements only"),
                        errhint("Pass one ALTER TABLE statement on a table, or one CREATE INDEX, DROP INDEX or "
                                "REINDEX statement.")));
    return stmt;
}

// The statement's facts, as the hook would gather them.
CStatement *plan_facts(AlterTableStmt *ats, const char *ddl) {
    CStatement *s = gather_statement(ats, false);
    if (s == nullptr)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is not a table", ats->relation->relname),
                        errhint("safe_column_plan explains ALTER TABLE statements on ordinary and partitioned "
                                "tables.")));
    (void)gather_commands(s, ats, ddl, false, true);
    return s;
}

// The facts that need a lock, without waiting for one.
void measure_unlocked(CStatement *s) {
    measure(s, false);
    if (needs_row_check(s))
        s->has_rows = table_has_rows(s, false);
}

// An index statement's facts (CREATE INDEX, DROP INDEX, REINDEX of a table or an index).
CIndexStatement *plan_index_facts(Node *stmt, const char *ddl) {
    CIndexStatement *s = gather_index_statement(stmt, ddl, false);
    if (s == nullptr)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("safe_column_plan explains index statements on ordinary and partitioned tables only"),
                        errhint("REINDEX SCHEMA, DATABASE and SYSTEM, and indexes of other relations, are not "
                                "explained.")));
    return s;
}

// One step of the plan as a row (columns 1-6, 8, 9; the caller sets 0 and 7).
void plan_step_row(const CPlanStep &p, Datum *values, bool *nulls) {
    values[1] = CStringGetTextDatum(p.approach);
    nulls[2] = p.sql[0] == '\0';
    values[2] = nulls[2] ? 0 : CStringGetTextDatum(p.sql);
    nulls[3] = p.lock == nullptr;
    values[3] = nulls[3] ? 0 : CStringGetTextDatum(p.lock);
    values[4] = BoolGetDatum(p.rewrite);
    values[5] = BoolGetDatum(p.scan);
    values[6] = BoolGetDatum(p.index_build);
    nulls[8] = !p.has_seconds;
    if (p.has_seconds) {
        Interval *iv = static_cast<Interval *>(palloc0(sizeof(Interval)));
        iv->time = static_cast<TimeOffset>(p.seconds * USECS_PER_SEC);
        values[8] = IntervalPGetDatum(iv);
    }
    values[9] = CStringGetTextDatum(p.note);
}

// The last row: what safe_column.mode does with the statement right now (with mode off, the verdict
// was taken for guard: both are said).
void verdict_row(const CVerdict &v, sc::ddl::Mode mode, bool index_statement, Datum *values, bool *nulls) {
    const char *what;
    switch (v.action) {
    case sc::ddl::Action::refuse:
        what = psprintf("refused: %s", v.message);
        break;
    case sc::ddl::Action::stage:
        what = index_statement ? "staged: a job whose worker builds the index with CREATE INDEX CONCURRENTLY"
                               : "staged: safe_add_column for each ADD COLUMN";
        break;
    case sc::ddl::Action::warn:
        what = psprintf("run as sent, after a WARNING: %s", v.message);
        break;
    default:
        what = mode == sc::ddl::Mode::warn ? "run as sent"
               : v.below_min_size ? "run as sent, after taking its lock queue-safely (the table is smaller than "
                                    "safe_column.guard_min_size)"
                                  : "run as sent, after taking its lock queue-safely";
        break;
    }
    values[1] = CStringGetTextDatum("verdict");
    nulls[2] = nulls[3] = nulls[8] = true;
    values[4] = values[5] = values[6] = BoolGetDatum(false);
    values[9] = CStringGetTextDatum(mode == sc::ddl::Mode::off
                                        ? psprintf("safe_column.mode = off: run as sent; in mode guard: %s", what)
                                        : psprintf("safe_column.mode = %s: %s", mode_name(mode), what));
}

// The forecast of the backfill each new column would need (the core keeps it for the ones that do).
void forecast_backfills(CStatement *s) {
    for (int i = 0; i < s->ncmds; i++) {
        CCommand &c = s->cmds[i];
        if (c.kind == sc::ddl::Kind::add_column && !c.column_exists && s->relid != InvalidOid)
            c.forecast = backfill_forecast_text(backfill_forecast_inputs(s->relid, c.typid), &c.forecast_seconds);
    }
}

// Whether the statement adds a column that does not exist yet (a new column for the subscribers).
bool adds_a_column(const CStatement *s) {
    if (s->relid == InvalidOid)
        return false;
    for (int i = 0; i < s->ncmds; i++)
        if (s->cmds[i].kind == sc::ddl::Kind::add_column && !s->cmds[i].column_exists)
            return true;
    return false;
}

// The row before the verdict when a publication would send the new column (see publications.hpp).
void publication_row(const char *note, Datum *values, bool *nulls) {
    values[1] = CStringGetTextDatum("publication");
    nulls[2] = nulls[3] = nulls[8] = true;
    values[4] = values[5] = values[6] = BoolGetDatum(false);
    values[9] = CStringGetTextDatum(note);
}

void put_row(ReturnSetInfo *rsinfo, int row, int64 table_bytes, Datum *values, bool *nulls) {
    values[0] = Int32GetDatum(row);
    values[7] = Int64GetDatum(table_bytes);
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

// The rows: each step, the publication row when there is one, the verdict.
void put_plan(FunctionCallInfo fcinfo, const CPlanStep *steps, int n, const char *pub_note, const CVerdict &v,
              int64 table_bytes, bool index_statement = false) {
    auto mode = static_cast<sc::ddl::Mode>(ddl_mode);
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    int row = 0;
    for (int i = 0; i < n; i++) {
        Datum values[10];
        bool nulls[10] = {};
        plan_step_row(steps[i], values, nulls);
        put_row(rsinfo, ++row, table_bytes, values, nulls);
    }
    Datum values[10];
    bool nulls[10] = {};
    if (pub_note != nullptr) {
        publication_row(pub_note, values, nulls);
        put_row(rsinfo, ++row, table_bytes, values, nulls);
        memset(nulls, 0, sizeof nulls);
    }
    verdict_row(v, mode, index_statement, values, nulls);
    put_row(rsinfo, ++row, table_bytes, values, nulls);
}

Datum plan_impl(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("ddl must not be null")));
    char *ddl = text_to_cstring(PG_GETARG_TEXT_PP(0));
    ErrorContextCallback cb;
    cb.callback = plan_error_callback;
    cb.arg = ddl;
    cb.previous = error_context_stack;
    error_context_stack = &cb;
    Node *stmt = parse_one(ddl);
    auto mode = static_cast<sc::ddl::Mode>(ddl_mode);
    auto verdict_mode = mode == sc::ddl::Mode::off ? sc::ddl::Mode::guard : mode;
    CPlanStep *steps;
    if (is_index_statement(stmt)) {
        CIndexStatement *s = plan_index_facts(stmt, ddl);
        error_context_stack = cb.previous;
        measure_index_statement(s);
        int n = core_plan_index(s, &steps);
        put_plan(fcinfo, steps, n, nullptr, core_decide_index(s, verdict_mode), s->table_bytes, true);
        return static_cast<Datum>(0);
    }
    CStatement *s = plan_facts(castNode(AlterTableStmt, stmt), ddl);
    error_context_stack = cb.previous;
    measure_unlocked(s);
    forecast_backfills(s);
    int n = core_plan(s, ddl, &steps);
    const char *pub_note = adds_a_column(s) ? publication_note(s->relid) : nullptr;
    put_plan(fcinfo, steps, n, pub_note, core_decide(s, verdict_mode), s->table_bytes);
    return static_cast<Datum>(0);
}

}  // namespace

}  // namespace sc::pg

extern "C" {

PG_FUNCTION_INFO_V1(safe_column_plan);

Datum safe_column_plan(PG_FUNCTION_ARGS) {
    return sc::pg::cpp_entry("safe_column_plan", [&] { return sc::pg::plan_impl(fcinfo); });
}

}  // extern "C"
