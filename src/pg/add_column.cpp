// safe_add_column(): validate, classify with the server's own predicates, take the brief ACCESS
// EXCLUSIVE lock without queueing the application behind it, change the catalog, record the job.
// (A little over 600 lines: the validation of each argument belongs with the request it builds.)
#include <cctype>
#include <optional>
#include <string>

#include "core/add_column_plan.hpp"
#include "core/ddl_guard.hpp"
#include "core/job_phase.hpp"
#include "core/sql_text.hpp"
#include "pg/add_column.hpp"
#include "pg/staged_serial.hpp"
#include "pg/forecast.hpp"
#include "pg/guard.hpp"
#include "pg/jobs.hpp"
#include "pg/lock.hpp"
#include "pg/publications.hpp"
#include "pg/staged_constraints.hpp"
#include "pg/worker.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_inherits.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_relation.h"
#include "utils/guc.h"
#include "utils/ruleutils.h"
#include "catalog/catalog.h"
#include "catalog/heap.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "catalog/dependency.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_node.h"
#include "parser/parse_type.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

#include "pg/compat.hpp"

namespace sc::pg {

bool in_safe_column_ddl = false;

namespace {

// ---------------------------------------------------------------------------------------------
// Errors raised while parsing a user's expression point into the statement safe_column generated:
// move the cursor there (QUERY: ... in psql) instead of into the caller's own statement.
struct ParseContext {
    const char *sql;
    const char *what;
};

void parse_error_callback(void *arg) {
    auto *ctx = static_cast<ParseContext *>(arg);
    int pos = geterrposition();
    if (pos > 0) {
        errposition(0);
        internalerrposition(pos);
        internalerrquery(ctx->sql);
    }
    errcontext("%s", ctx->what);
}

// ---------------------------------------------------------------------------------------------
// Calls into the pure core. Its C++ objects live only inside these scopes, and leave them as palloc'd
// text through pg_call, so no PostgreSQL longjmp can cross a live C++ object.

char *core_add_column_sql(const char *table, const char *column, const char *type, const char *default_expr,
                          bool not_null) {
    std::string text;
    {
        sc::sql::AddColumnSpec spec;
        spec.table = table;
        spec.column = column;
        spec.type = type;
        if (default_expr)
            spec.default_expr = std::string(default_expr);
        spec.not_null = not_null;
        text = sc::sql::add_column(spec);
    }
    return pg_call([&] { return pstrdup(text.c_str()); });
}

struct Decision {
    sc::AddColumnPath path;
    int sqlerrcode;
    char *reason;
    char *hint;
};

Decision core_decide(const sc::AddColumnFacts &facts) {
    sc::AddColumnDecision d = sc::decide_add_column(facts);
    Decision out{};
    out.path = d.path;
    if (d.sqlstate.size() == 5)
        out.sqlerrcode = MAKE_SQLSTATE(d.sqlstate[0], d.sqlstate[1], d.sqlstate[2], d.sqlstate[3], d.sqlstate[4]);
    out.reason = pg_call([&] { return pstrdup(d.reason.c_str()); });
    out.hint = pg_call([&] { return pstrdup(d.hint.c_str()); });
    return out;
}

// ---------------------------------------------------------------------------------------------

struct Request {
    Oid relid;
    char *relname;     // qualified and quoted, for SQL text
    char *relname_msg; // as messages show it
    const char *colname;
    Oid typid;
    int32 typmod;
    char *type_text;   // canonical, with its COLLATE clause when one was given
    Oid collation;     // the column's: the one given, or the type's
    bool collate_written;  // type_text ends in a COLLATE clause (another collation than the type's)
    char *default_expr;
    char *backfill_expr;
    bool not_null;
    Node *default_cooked;  // NULL when no default, or DEFAULT NULL
    bool default_volatile;
    char *sql;         // the ALTER TABLE statement of the catalog-only form
    char *fill_expr;   // backfill: what existing rows get, deparsed schema-qualified
};

char *arg_text_or_null(FunctionCallInfo fcinfo, int n, const char *argname) {
    if (PG_ARGISNULL(n))
        return nullptr;
    char *s = text_to_cstring(PG_GETARG_TEXT_PP(n));
    bool blank = true;
    for (const char *p = s; *p; p++)
        if (!isspace(static_cast<unsigned char>(*p)))
            blank = false;
    if (blank)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s must not be empty", argname),
                        errhint("Pass NULL for none.")));
    return s;
}

void require_not_null(FunctionCallInfo fcinfo, int n, const char *argname) {
    if (PG_ARGISNULL(n))
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be null", argname)));
}

// The table must be an ordinary or partitioned table that the caller owns and may alter.
void check_relation(Oid relid) {
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tup))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
    Form_pg_class form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
    char relkind = form->relkind;
    const char *name = NameStr(form->relname);

    if (IsSystemClass(relid, form) || IsCatalogNamespace(form->relnamespace) ||
        IsToastNamespace(form->relnamespace))
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied: \"%s\" is a system catalog", name)));
    char *nspname = get_namespace_name(form->relnamespace);
    if (nspname != nullptr && strcmp(nspname, "information_schema") == 0)
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied: \"%s\" is a system table", name),
                        errdetail("Tables in schema information_schema belong to the system.")));
    Oid extension = getExtensionOfObject(RelationRelationId, relid);
    if (OidIsValid(extension) && extension == get_extension_oid("safe_column", true))
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied: \"%s\" is an internal table of safe_column", name)));
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is not a table", name),
                        errdetail_relkind_not_supported(relkind),
                        errhint("safe_add_column adds columns to ordinary and partitioned tables.")));
    if (form->relispartition)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("cannot add column to a partition"),
                        errdetail("\"%s\" is a partition; its columns are those of its partitioned table.", name),
                        errhint("Add the column to the partitioned table.")));
    if (form->relpersistence == RELPERSISTENCE_TEMP && !isTempOrTempToastNamespace(form->relnamespace))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot alter temporary tables of other sessions")));
    if (!compat::owns_relation(relid, GetUserId()))
        aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind), name);
    ReleaseSysCache(tup);
}

void parse_type(Request *r, const char *type_in) {
    // A COLLATE clause, as ALTER TABLE writes it after the type: split off, and looked up on its own.
    std::size_t at = sc::ddl::keyword_at(type_in, "COLLATE");
    const char *collate = at == std::string::npos ? nullptr : type_in + at + strlen("COLLATE");
    compat::parse_type_string(collate ? pnstrdup(type_in, at) : type_in, &r->typid, &r->typmod);
    r->type_text = format_type_with_typemod(r->typid, r->typmod);
    r->collation = get_typcollation(r->typid);
    if (collate != nullptr) {
        if (!type_is_collatable(r->typid))
            ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                            errmsg("collations are not supported by type %s", format_type_be(r->typid)),
                            errhint("Leave the COLLATE clause out of column_type.")));
        while (isspace(static_cast<unsigned char>(*collate)))
            collate++;
        if (*collate == '\0')
            ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("column_type \"%s\" names no collation", type_in),
                            errhint("Write the collation after COLLATE, as in 'text COLLATE \"C\"'.")));
        Oid given = get_collation_oid(compat::qualified_name_list(collate), false);
        r->collate_written = given != r->collation;
        if (r->collate_written)
            r->type_text = psprintf("%s COLLATE %s", r->type_text, generate_collation_name(given));
        r->collation = given;
    }
    CheckAttributeType(r->colname, r->typid, r->collation, NIL, 0);
}

// Parse the generated ALTER TABLE and make sure it is exactly the one command safe_column meant:
// a user expression that closes a parenthesis and adds a statement, a command or a constraint of its
// own is refused here, before anything runs.
ColumnDef *verified_column_def(const Request *r) {
    ParseContext pctx{r->sql, "while parsing default_expr of safe_add_column"};
    ErrorContextCallback cb;
    cb.callback = parse_error_callback;
    cb.arg = &pctx;
    cb.previous = error_context_stack;
    error_context_stack = &cb;
    List *stmts = raw_parser(r->sql, RAW_PARSE_DEFAULT);
    error_context_stack = cb.previous;

    bool ok = list_length(stmts) == 1;
    ColumnDef *def = nullptr;
    if (ok) {
        Node *stmt = linitial_node(RawStmt, stmts)->stmt;
        ok = IsA(stmt, AlterTableStmt) && list_length(castNode(AlterTableStmt, stmt)->cmds) == 1;
        if (ok) {
            auto *cmd = linitial_node(AlterTableCmd, castNode(AlterTableStmt, stmt)->cmds);
            ok = cmd->subtype == AT_AddColumn && IsA(cmd->def, ColumnDef);
            if (ok)
                def = castNode(ColumnDef, cmd->def);
        }
    }
    if (ok) {
        int defaults = 0, notnulls = 0, others = 0;
        ListCell *lc;
        foreach (lc, def->constraints) {
            auto *con = lfirst_node(Constraint, lc);
            if (con->contype == CONSTR_DEFAULT)
                defaults++;
            else if (con->contype == CONSTR_NOTNULL)
                notnulls++;
            else
                others++;
        }
        ok = defaults == (r->default_expr ? 1 : 0) && notnulls == (r->not_null ? 1 : 0) && others == 0 &&
             (def->collClause != nullptr) == r->collate_written &&
             strcmp(def->colname, r->colname) == 0;
    }
    if (!ok)
        ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("default_expr must be exactly one expression"),
                        errdetail("With it, the statement would be: %s", r->sql),
                        errhint("Pass a single expression such as 'active' or now(); no statement, clause or "
                                "constraint of its own.")));
    return def;
}

// Cook the default exactly as ALTER TABLE will (cookDefault), then ask the server's own question:
// would the planned expression make ADD COLUMN rewrite the table?
void cook_default(Request *r, ColumnDef *def) {
    Node *raw = nullptr;
    ListCell *lc;
    foreach (lc, def->constraints) {
        auto *con = lfirst_node(Constraint, lc);
        if (con->contype == CONSTR_DEFAULT)
            raw = con->raw_expr;
    }
    if (raw == nullptr)
        return;
    ParseContext pctx{r->sql, "while checking default_expr of safe_add_column"};
    ErrorContextCallback cb;
    cb.callback = parse_error_callback;
    cb.arg = &pctx;
    cb.previous = error_context_stack;
    error_context_stack = &cb;
    ParseState *pstate = make_parsestate(nullptr);
    pstate->p_sourcetext = r->sql;
    Node *cooked = cookDefault(pstate, raw, r->typid, r->typmod, r->colname, '\0');
    Node *planned = cooked ? reinterpret_cast<Node *>(expression_planner(reinterpret_cast<Expr *>(cooked))) : nullptr;
    error_context_stack = cb.previous;

    if (cooked == nullptr || (IsA(cooked, Const) && castNode(Const, cooked)->constisnull))
        return;  // DEFAULT NULL: no default at all, as for ALTER TABLE
    r->default_cooked = cooked;
    r->default_volatile = contain_volatile_functions(planned);
}

// backfill_expr: one expression over the row's other columns, assigned to the column type.
// Returns it deparsed, schema-qualified. Refuses anything but one plain expression: no statement,
// clause, subquery, aggregate, window or set-returning function.
char *cook_backfill_expr(const Request *r) {
    char *sql = psprintf("SELECT (%s)", r->backfill_expr);
    ParseContext pctx{sql, "while checking backfill_expr of safe_add_column"};
    ErrorContextCallback cb;
    cb.callback = parse_error_callback;
    cb.arg = &pctx;
    cb.previous = error_context_stack;
    error_context_stack = &cb;
    List *stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
    bool ok = list_length(stmts) == 1 && IsA(linitial_node(RawStmt, stmts)->stmt, SelectStmt);
    SelectStmt *sel = ok ? castNode(SelectStmt, linitial_node(RawStmt, stmts)->stmt) : nullptr;
    ok = ok && sel->op == SETOP_NONE && list_length(sel->targetList) == 1 && sel->fromClause == NIL &&
         sel->whereClause == nullptr && sel->groupClause == NIL && sel->havingClause == nullptr &&
         sel->windowClause == NIL && sel->distinctClause == NIL && sel->sortClause == NIL &&
         sel->limitCount == nullptr && sel->limitOffset == nullptr && sel->lockingClause == NIL &&
         sel->withClause == nullptr && sel->intoClause == nullptr && sel->valuesLists == NIL;
    if (!ok)
        ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("backfill_expr must be exactly one expression"),
                        errdetail("With it, the query would be: %s", sql),
                        errhint("Pass a single expression over the row's columns, such as lower(email).")));
    Node *raw = linitial_node(ResTarget, sel->targetList)->val;

    ParseState *pstate = make_parsestate(nullptr);
    pstate->p_sourcetext = sql;
    Relation rel = table_open(r->relid, AccessShareLock);
    ParseNamespaceItem *nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock, nullptr, false, true);
    addNSItemToQuery(pstate, nsitem, true, true, true);
    // The rules of a generated column: the row's own columns, no subquery, aggregate, window or
    // set-returning function.
    Node *expr = transformExpr(pstate, raw, EXPR_KIND_GENERATED_COLUMN);
    Oid from = exprType(expr);
    Node *coerced = coerce_to_target_type(pstate, expr, from, r->typid, r->typmod, COERCION_ASSIGNMENT,
                                          COERCE_IMPLICIT_CAST, -1);
    if (coerced == nullptr)
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("backfill_expr is of type %s, but column \"%s\" is of type %s", format_type_be(from),
                               r->colname, r->type_text),
                        errhint("Cast the expression to the column's type.")));
    assign_expr_collations(pstate, coerced);
    // Fold constants now, as for a default: an expression that fails or is NULL for every row is
    // refused here rather than by the job on its first row, after the column was added.
    Node *folded = reinterpret_cast<Node *>(expression_planner(static_cast<Expr *>(copyObjectImpl(coerced))));
    if (r->not_null && IsA(folded, Const) && castNode(Const, folded)->constisnull)
        ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
                        errmsg("backfill_expr is null, but column \"%s\" is to be NOT NULL", r->colname)));
    error_context_stack = cb.previous;
    char *text = deparse_qualified(coerced, deparse_context_for(RelationGetRelationName(rel), r->relid));
    table_close(rel, NoLock);
    return text;
}

// The staged statement must also be exactly the commands safe_column meant.
void verify_staged(const char *sql, bool with_default) {
    List *stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
    bool ok = list_length(stmts) == 1 && IsA(linitial_node(RawStmt, stmts)->stmt, AlterTableStmt);
    if (ok) {
        auto *ats = castNode(AlterTableStmt, linitial_node(RawStmt, stmts)->stmt);
        ok = list_length(ats->cmds) == (with_default ? 2 : 1);
        if (ok) {
            auto *add = linitial_node(AlterTableCmd, ats->cmds);
            ok = add->subtype == AT_AddColumn && IsA(add->def, ColumnDef) &&
                 castNode(ColumnDef, add->def)->constraints == NIL;
            if (ok && with_default)
                ok = lsecond_node(AlterTableCmd, ats->cmds)->subtype == AT_ColumnDefault;
        }
    }
    if (!ok)
        ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("default_expr must be exactly one expression"),
                        errdetail("With it, the statement would be: %s", sql)));
}

char *core_add_column_staged_sql(const char *table, const char *column, const char *type, const char *default_expr) {
    std::string text;
    {
        std::optional<std::string> def;
        if (default_expr)
            def = std::string(default_expr);
        text = sc::sql::add_column_staged(table, column, type, def);
    }
    return pg_call([&] { return pstrdup(text.c_str()); });
}

// The tables a backfill fills: the table itself if it has storage, and every partition or
// inheritance child that has (the caller holds their locks).
List *fill_parts(Oid relid) {
    List *parts = NIL;
    ListCell *lc;
    foreach (lc, find_all_inheritors(relid, NoLock, nullptr)) {
        Oid part = lfirst_oid(lc);
        if (get_rel_relkind(part) == RELKIND_RELATION)
            parts = lappend_oid(parts, part);
    }
    return parts;
}

bool table_has_rows(const Request *r) {
    char *query = psprintf("SELECT EXISTS (SELECT FROM %s)", r->relname);
    int rc = SPI_execute(query, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    bool isnull;
    return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

// The column's current default, as stored by ALTER TABLE (cooked, not planned); NULL when none.
Node *stored_default(Oid relid, AttrNumber attnum) {
    Oid argtypes[2] = {OIDOID, INT2OID};
    Datum values[2] = {ObjectIdGetDatum(relid), Int16GetDatum(attnum)};
    int rc = SPI_execute_with_args("SELECT adbin FROM pg_catalog.pg_attrdef WHERE adrelid = $1 AND adnum = $2",
                                   2, argtypes, values, nullptr, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
    if (SPI_processed == 0)
        return nullptr;
    char *text = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    return text ? static_cast<Node *>(stringToNode(text)) : nullptr;
}

bool same_text(const char *a, const char *b) {
    if (a == nullptr || b == nullptr)
        return a == b;
    return strcmp(a, b) == 0;
}

// The column exists already. Same definition as a job recorded: that job's id, with a NOTICE.
// Anything else: duplicate_column, with what differs.
int64 existing_column(const Request *r, AttrNumber attnum, const InlineConstraints *ic) {
    HeapTuple tup = SearchSysCacheAttNum(r->relid, attnum);
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "cache lookup failed for attribute %d of relation %u", attnum, r->relid);
    auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tup));
    Oid atttypid = att->atttypid;
    int32 atttypmod = att->atttypmod;
    Oid attcollation = att->attcollation;
    bool attnotnull = att->attnotnull;
    ReleaseSysCache(tup);

    JobRecord job{};
    bool have_job = find_column_job(r->relid, attnum, &job);
    bool job_done = have_job && strcmp(job.state, "complete") == 0;

    StringInfoData diff;
    initStringInfo(&diff);
    if (atttypid != r->typid || atttypmod != r->typmod)
        appendStringInfo(&diff, " Its type is %s, not %s.", format_type_with_typemod(atttypid, atttypmod),
                         r->type_text);
    else if (attcollation != r->collation)
        appendStringInfo(&diff, " Its collation is %s, not %s.",
                         OidIsValid(attcollation) ? generate_collation_name(attcollation) : "none",
                         generate_collation_name(r->collation));
    Node *current = stored_default(r->relid, attnum);
    if (!equal(current, r->default_cooked)) {
        if (current == nullptr)
            appendStringInfoString(&diff, " It has no default, and one was requested.");
        else if (r->default_cooked == nullptr)
            appendStringInfoString(&diff, " It has a default, and none was requested.");
        else
            appendStringInfoString(&diff, " Its default is another expression.");
    }
    bool notnull_now = (have_job && !job_done) ? job.not_null : attnotnull;
    if (notnull_now != r->not_null)
        appendStringInfo(&diff, " It is %s, and %s was requested.", notnull_now ? "NOT NULL" : "nullable",
                         r->not_null ? "NOT NULL" : "nullable");
    if (have_job && !same_text(job.backfill_expr, r->backfill_expr))
        appendStringInfoString(&diff, " It was backfilled with another backfill_expr.");
    if (have_job) {
        OwnerContext ctx;
        enter_owner_context(&ctx);
        appendStringInfoString(&diff, staged_constraints_differ(job.job_id, ic));
        leave_owner_context(&ctx);
    }

    if (diff.len > 0 || !have_job)
        ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
                        errmsg("column \"%s\" of relation \"%s\" already exists", r->colname, r->relname_msg),
                        !have_job ? errdetail("It was not added by safe_add_column.%s", diff.data)
                                  : errdetail_internal("%s", diff.data + 1),
                        errhint("Choose another column name, or drop the column first.")));
    ereport(NOTICE, (errmsg("column \"%s\" of relation \"%s\" already exists as added by job %lld, skipping",
                            r->colname, r->relname_msg, static_cast<long long>(job.job_id))));
    return job.job_id;
}


}  // namespace

// Deparse an expression with every name that is not in pg_catalog schema-qualified, so that it means
// the same objects wherever and whenever the worker runs it (search_path pinned to pg_catalog).
char *deparse_qualified(Node *expr, List *dpcontext) {
    int nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    char *text = deparse_expression(expr, dpcontext, false, false);
    AtEOXact_GUC(true, nest);
    return text;
}

void run_extension_ddl(const char *sql) {
    in_safe_column_ddl = true;
    int rc = SPI_execute(sql, false, 0);
    in_safe_column_ddl = false;  // after an error, the abort callbacks reset it (db_lifecycle.cpp)
    if (rc != SPI_OK_UTILITY)
        elog(ERROR, "SPI_execute failed (%s): %s", SPI_result_code_string(rc), sql);
}

namespace {

// The pure core's decision for the request (refused: an ERROR with its reason and hint).
Decision decide_path(Request *r) {
    sc::AddColumnFacts facts;
    facts.has_default = r->default_cooked != nullptr;
    facts.default_volatile = r->default_volatile;
    facts.domain_has_constraints = compat::domain_has_constraints(r->typid);
    facts.not_null = r->not_null;
    facts.has_backfill_expr = r->backfill_expr != nullptr;
    facts.table_has_rows = true;
    if (r->not_null && !facts.has_default && !facts.has_backfill_expr)
        facts.table_has_rows = table_has_rows(r);
    Decision d = core_decide(facts);
    if (d.path == sc::AddColumnPath::refuse)
        ereport(ERROR, (errcode(d.sqlerrcode),
                        errmsg("cannot add column \"%s\" to \"%s\" safely", r->colname, r->relname_msg),
                        errdetail_internal("%s", d.reason), errhint("%s", d.hint)));
    return d;
}

// The job's record, once the column is added. A column without a backfill but with constraints to stage
// is a job too: it starts at add_check (sc::first_phase).
NewJob new_job(const Request *r, bool backfill, const LockOutcome &lock, List *staged) {
    bool work = backfill || staged != NIL;
    NewJob job{};
    job.relid = r->relid;
    job.attnum = get_attnum(r->relid, r->colname);
    job.column_name = r->colname;
    job.column_type = r->type_text;
    job.default_expr = r->default_expr;
    job.backfill_expr = r->backfill_expr;
    job.not_null = r->not_null;
    job.state = work ? "queued" : "complete";
    job.finished = !work;
    job.lock_attempts = lock.attempts;
    job.lock_wait_ms = lock.waited_ms;
    job.phase = sc::phase_name(sc::first_phase(backfill, has_staged_kind(staged, "cf"), has_staged_kind(staged, "up")));
    job.staged = staged;
    job.fill_expr = backfill ? r->fill_expr : nullptr;
    job.new_rows_get_value = r->default_cooked != nullptr;
    job.parts = backfill ? fill_parts(r->relid) : NIL;
    return job;
}

// The forecast of filling relid's existing rows when it is a second or more (a smaller backfill is
// done before anyone could act on its figures); else NULL.
char *forecast_if_long(Oid relid, Oid typid) {
    double seconds;
    char *text = backfill_forecast_text(backfill_forecast_inputs(relid, typid), &seconds);
    return seconds >= 1.0 ? text : nullptr;
}

}  // namespace

int64 add_column_job(Oid relid, const char *colname, const char *type_in, char *default_expr, bool not_null,
                     char *backfill_expr, char **forecast, const InlineConstraints *inline_cons) {
    Request r{};
    r.relid = relid;
    r.colname = pstrdup(colname);
    r.default_expr = default_expr;
    // A primary key's column is NOT NULL (enforced before its index is built).
    r.not_null = not_null || (inline_cons != nullptr && inline_cons->primary_key);
    r.backfill_expr = backfill_expr;

    if (r.colname[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_NAME), errmsg("column_name must not be empty")));
    check_relation(r.relid);
    r.relname_msg = get_rel_name(r.relid);
    r.relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(r.relid)), r.relname_msg);
    parse_type(&r, type_in);
    r.sql = core_add_column_sql(r.relname, quote_identifier(r.colname), r.type_text, r.default_expr, r.not_null);
    ColumnDef *def = verified_column_def(&r);
    cook_default(&r, def);

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");

    AttrNumber attnum = get_attnum(r.relid, r.colname);
    if (attnum != InvalidAttrNumber) {
        int64 job_id = existing_column(&r, attnum, inline_cons);
        SPI_finish();
        return job_id;
    }

    Decision d = decide_path(&r);
    bool backfill = d.path == sc::AddColumnPath::backfill;
    char *staged_sql = nullptr;
    if (backfill) {
        r.fill_expr = r.backfill_expr ? cook_backfill_expr(&r) : deparse_qualified(r.default_cooked, NIL);
        staged_sql = core_add_column_staged_sql(r.relname, quote_identifier(r.colname), r.type_text, r.default_expr);
        verify_staged(staged_sql, r.default_expr != nullptr);
    }

    check_publications(r.relid, r.colname);
    char *what = psprintf("add column \"%s\"", r.colname);
    List *referenced = inline_referenced_tables(r.relid, r.relname, r.colname, inline_cons);
    LockOutcome lock = lock_queue_safe(r.relid, AccessExclusiveLock, true, what, referenced, ShareRowExclusiveLock);

    // The world may have changed while we waited: the owner, and the column itself.
    check_relation(r.relid);
    attnum = get_attnum(r.relid, r.colname);
    if (attnum != InvalidAttrNumber) {
        int64 job_id = existing_column(&r, attnum, inline_cons);
        SPI_finish();
        return job_id;
    }

    run_extension_ddl(backfill ? staged_sql : r.sql);
    List *staged = inline_cons ? try_staged_constraints(r.relid, r.relname, r.colname, inline_cons) : NIL;

    NewJob job = new_job(&r, backfill, lock, staged);
    int64 job_id = insert_job(&job);
    if (backfill || staged != NIL)
        start_worker_at_commit();
    SPI_finish();
    if (forecast != nullptr)
        *forecast = backfill ? forecast_if_long(r.relid, r.typid) : nullptr;
    return job_id;
}

namespace {

// identity: NULL (-1), 'by default' (0) or 'always' (1), in any case.
int identity_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n))
        return -1;
    char *given = text_to_cstring(PG_GETARG_TEXT_PP(n));
    if (pg_strcasecmp(given, "by default") == 0)
        return 0;
    if (pg_strcasecmp(given, "always") == 0)
        return 1;
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("identity must be 'by default' or 'always'"),
                    errdetail("It was '%s'.", given),
                    errhint("identity => 'by default' is GENERATED BY DEFAULT AS IDENTITY, 'always' GENERATED "
                            "ALWAYS AS IDENTITY.")));
    return -1;
}

Datum safe_add_column_impl(FunctionCallInfo fcinfo) {
    require_not_null(fcinfo, 0, "tbl");
    require_not_null(fcinfo, 1, "column_name");
    require_not_null(fcinfo, 2, "column_type");
    require_not_null(fcinfo, 4, "not_null");
    Oid relid = PG_GETARG_OID(0);
    const char *colname = NameStr(*PG_GETARG_NAME(1));
    char *type_in = text_to_cstring(PG_GETARG_TEXT_PP(2));
    char *default_expr = arg_text_or_null(fcinfo, 3, "default_expr");
    bool not_null = PG_GETARG_BOOL(4);
    char *backfill_expr = arg_text_or_null(fcinfo, 5, "backfill_expr");
    // 0.3's signature; a database still on 0.2 has the first six only.
    InlineConstraints ic{};
    ic.check_expr = PG_NARGS() > 6 ? arg_text_or_null(fcinfo, 6, "check_expr") : nullptr;
    ic.references_clause = PG_NARGS() > 7 ? arg_text_or_null(fcinfo, 7, "references_clause") : nullptr;
    // 0.4's: the column's own UNIQUE / PRIMARY KEY (the name PostgreSQL would choose).
    if (PG_NARGS() > 9) {
        require_not_null(fcinfo, 8, "unique_key");
        require_not_null(fcinfo, 9, "primary_key");
        ic.unique = PG_GETARG_BOOL(8);
        ic.primary_key = PG_GETARG_BOOL(9);
        if (ic.unique && ic.primary_key)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("unique_key and primary_key cannot both be true"),
                            errdetail("A primary key is unique already."),
                            errhint("Give primary_key => true alone.")));
    }
    char *forecast = nullptr;
    // A serial type: the sequence, the column numbered from it, OWNED BY (staged_serial.cpp), as stage mode;
    // an identity column (0.4's identity) the same from a staging sequence, made an identity at the end.
    const char *serial_type = serial_integer_type(type_in);
    int identity = PG_NARGS() > 10 ? identity_arg(fcinfo, 10) : -1;
    if ((serial_type || identity >= 0) && (default_expr || backfill_expr))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s column takes no %s", serial_type ? psprintf("a %s", type_in) : "an identity",
                               default_expr ? "default_expr" : "backfill_expr"),
                        errdetail("Its default is nextval() of its own sequence, which numbers the existing rows too."),
                        serial_type ? errhint("Leave default_expr and backfill_expr out, or give the integer type as "
                                              "column_type with a default of your own.")
                                    : errhint("Leave default_expr and backfill_expr out, or leave identity out and "
                                              "give a default of your own.")));
    if (serial_type && identity >= 0)
        ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR),
                        errmsg("both default and identity specified for column \"%s\"", colname),
                        errhint("Give the integer type as column_type with identity, or the serial type alone.")));
    int64 job_id = identity >= 0 ? stage_identity_column(relid, colname, type_in, identity == 1, &forecast, &ic)
                   : serial_type ? stage_serial_column(relid, colname, serial_type, nullptr, &forecast, &ic)
                                 : add_column_job(relid, colname, type_in, default_expr, not_null, backfill_expr,
                                                  &forecast, &ic);
    if (forecast != nullptr)
        ereport(NOTICE, (errmsg("safe_column job %lld fills the existing rows of \"%s\" in the background",
                                static_cast<long long>(job_id), get_rel_name(relid)),
                         errdetail("Expected: %s.", forecast),
                         errhint("Follow it in safe_column_progress, or wait for it with CALL safe_column_watch(%lld).",
                                 static_cast<long long>(job_id))));
    PG_RETURN_INT64(job_id);
}

}  // namespace

}  // namespace sc::pg

extern "C" {

PG_FUNCTION_INFO_V1(safe_add_column);

Datum safe_add_column(PG_FUNCTION_ARGS) {
    return sc::pg::cpp_entry("safe_add_column", [&] { return sc::pg::safe_add_column_impl(fcinfo); });
}

}  // extern "C"
