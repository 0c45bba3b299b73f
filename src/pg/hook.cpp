// The ProcessUtility hook (safe_column.mode) and safe_column_plan(ddl).
//
// For an ALTER TABLE on an ordinary or partitioned table in a database where the extension is
// installed, gather the facts with the server's own predicates (the default cooked and planned as
// ALTER TABLE will, contain_volatile_functions, DomainHasConstraints, AlterTableGetLockLevel, the
// CHECK constraints that let SET NOT NULL skip its scan, the table's size), let the pure core decide
// (src/core/ddl_guard), then run as sent, warn, take the locks queue-safely first, refuse, or stage.
// The facts live in palloc'd C structs; the core's C++ objects live only inside core_* functions.
#include <climits>
#include <string>
#include <vector>

#include "core/ddl_guard.hpp"
#include "pg/add_column.hpp"
#include "pg/guard.hpp"
#include "pg/hook.hpp"
#include "pg/lock.hpp"
#include "pg/shmem.hpp"
#include "pg/subxact.hpp"

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

int ddl_mode = static_cast<int>(sc::ddl::Mode::guard);
int guard_min_size_kb = 10 * 1024;

namespace {

ProcessUtility_hook_type prev_process_utility = nullptr;

const struct config_enum_entry mode_options[] = {
    {"off", static_cast<int>(sc::ddl::Mode::off), false},
    {"warn", static_cast<int>(sc::ddl::Mode::warn), false},
    {"guard", static_cast<int>(sc::ddl::Mode::guard), false},
    {"stage", static_cast<int>(sc::ddl::Mode::stage), false},
    {nullptr, 0, false},
};

// ---------------------------------------------------------------------------------------------
// Facts, in palloc'd memory.

struct CCommand {
    sc::ddl::Kind kind;
    int lockmode;
    const char *column;       // quoted
    const char *column_name;  // raw
    const char *type;
    const char *default_expr;            // deparsed for people (NULL: none)
    const char *default_expr_qualified;  // deparsed schema-qualified, for safe_add_column
    bool default_volatile, not_null, serial, identity, generated, domain_constraints, collate;
    bool if_not_exists, column_exists;
    const char *check;
    bool unique, primary_key;
    const char *references;
    const char *check_name, *unique_name, *fk_name, *sequence;
    bool already_not_null, implied_by_check;
    const char *constraint;
    bool not_valid, using_index;
    const char *expr, *keys, *fk_target;
    AttrNumber attnum;  // set_not_null
    bool type_rewrite;  // alter_type
    const char *using_expr, *new_column, *new_column_name;
    const char *target;  // set_tablespace, set_persistence
};

struct CStatement {
    Oid relid;
    bool inh;
    const char *table;       // qualified and quoted
    const char *table_name;  // "name", for messages
    bool has_rows;
    int64 table_bytes, index_bytes;
    int ncmds;
    CCommand *cmds;
};

const char *str_or_empty(const char *s) { return s ? s : ""; }

sc::ddl::Statement to_core(const CStatement *s) {
    sc::ddl::Statement out;
    out.table = s->table;
    out.table_name = s->table_name;
    out.has_rows = s->has_rows;
    out.table_bytes = s->table_bytes;
    out.index_bytes = s->index_bytes;
    for (int i = 0; i < s->ncmds; i++) {
        const CCommand &c = s->cmds[i];
        sc::ddl::Command k;
        k.kind = c.kind;
        k.lockmode = c.lockmode;
        k.column = str_or_empty(c.column);
        k.column_name = str_or_empty(c.column_name);
        k.type = str_or_empty(c.type);
        if (c.default_expr)
            k.default_expr = std::string(c.default_expr);
        k.default_volatile = c.default_volatile;
        k.not_null = c.not_null;
        k.serial = c.serial;
        k.identity = c.identity;
        k.generated = c.generated;
        k.domain_constraints = c.domain_constraints;
        k.collate = c.collate;
        k.if_not_exists = c.if_not_exists;
        k.column_exists = c.column_exists;
        if (c.check)
            k.check = std::string(c.check);
        k.unique = c.unique;
        k.primary_key = c.primary_key;
        if (c.references)
            k.references = std::string(c.references);
        k.check_name = str_or_empty(c.check_name);
        k.unique_name = str_or_empty(c.unique_name);
        k.fk_name = str_or_empty(c.fk_name);
        k.sequence = str_or_empty(c.sequence);
        k.already_not_null = c.already_not_null;
        k.implied_by_check = c.implied_by_check;
        k.constraint = str_or_empty(c.constraint);
        k.not_valid = c.not_valid;
        k.using_index = c.using_index;
        k.expr = str_or_empty(c.expr);
        k.keys = str_or_empty(c.keys);
        k.fk_target = str_or_empty(c.fk_target);
        k.type_rewrite = c.type_rewrite;
        if (c.using_expr)
            k.using_expr = std::string(c.using_expr);
        k.new_column = str_or_empty(c.new_column);
        k.new_column_name = str_or_empty(c.new_column_name);
        k.target = str_or_empty(c.target);
        out.cmds.push_back(std::move(k));
    }
    return out;
}

struct CVerdict {
    sc::ddl::Action action;
    bool below_min_size;
    char *message, *detail, *hint;
};

char *pg_strdup_cpp(const std::string &s) {
    const char *p = s.c_str();
    return pg_call([&] { return pstrdup(p); });
}

CVerdict core_decide(const CStatement *s, sc::ddl::Mode mode) {
    CVerdict out{};
    {
        sc::ddl::Verdict v = sc::ddl::decide(to_core(s), mode, static_cast<std::int64_t>(guard_min_size_kb) * 1024);
        out.action = v.action;
        out.below_min_size = v.below_min_size;
        out.message = pg_strdup_cpp(v.message);
        out.detail = pg_strdup_cpp(v.detail);
        out.hint = pg_strdup_cpp(v.hint);
    }
    return out;
}

struct CPlanStep {
    char *approach, *sql, *note, *lock;
    int lockmode;
    bool rewrite, scan, index_build, has_seconds;
    double seconds;
};

int core_plan(const CStatement *s, const char *sql, CPlanStep **out) {
    int n = 0;
    {
        std::vector<sc::ddl::PlanStep> steps = sc::ddl::plan(to_core(s), sql);
        n = static_cast<int>(steps.size());
        std::size_t bytes = sizeof(CPlanStep) * (steps.empty() ? 1 : steps.size());
        CPlanStep *arr = static_cast<CPlanStep *>(pg_call([&] { return palloc0(bytes); }));
        for (int i = 0; i < n; i++) {
            const sc::ddl::PlanStep &p = steps[static_cast<std::size_t>(i)];
            arr[i].approach = pg_strdup_cpp(p.approach);
            arr[i].sql = pg_strdup_cpp(p.sql);
            arr[i].note = pg_strdup_cpp(p.note);
            arr[i].lockmode = p.lockmode;
            if (p.lockmode != 0)
                arr[i].lock = pg_strdup_cpp(sc::ddl::lock_mode_name(p.lockmode));
            arr[i].rewrite = p.rewrite;
            arr[i].scan = p.scan;
            arr[i].index_build = p.index_build;
            arr[i].has_seconds = p.seconds.has_value();
            arr[i].seconds = p.seconds.value_or(0.0);
        }
        *out = arr;
    }
    return n;
}

// ---------------------------------------------------------------------------------------------
// Gathering the facts.

bool is_serial_name(const char *name, const char **type) {
    static const struct {
        const char *name, *type;
    } serials[] = {{"smallserial", "smallint"}, {"serial2", "smallint"}, {"serial", "integer"},
                   {"serial4", "integer"},      {"bigserial", "bigint"},  {"serial8", "bigint"}};
    for (const auto &s : serials)
        if (strcmp(name, s.name) == 0) {
            *type = s.type;
            return true;
        }
    return false;
}

char *name_list(List *names) {
    StringInfoData buf;
    initStringInfo(&buf);
    appendStringInfoChar(&buf, '(');
    ListCell *lc;
    foreach (lc, names) {
        if (lc != list_head(names))
            appendStringInfoString(&buf, ", ");
        appendStringInfoString(&buf, quote_identifier(strVal(lfirst(lc))));
    }
    appendStringInfoChar(&buf, ')');
    return buf.data;
}

const char *fk_action(char a) {
    switch (a) {
    case FKCONSTR_ACTION_RESTRICT:
        return "RESTRICT";
    case FKCONSTR_ACTION_CASCADE:
        return "CASCADE";
    case FKCONSTR_ACTION_SETNULL:
        return "SET NULL";
    case FKCONSTR_ACTION_SETDEFAULT:
        return "SET DEFAULT";
    default:
        return nullptr;  // NO ACTION, the default
    }
}

// "other (id) MATCH FULL ON DELETE CASCADE", from the parse tree.
char *fk_target_text(Constraint *con) {
    StringInfoData buf;
    initStringInfo(&buf);
    RangeVar *pk = con->pktable;
    appendStringInfoString(&buf, pk->schemaname ? quote_qualified_identifier(pk->schemaname, pk->relname)
                                                : quote_identifier(pk->relname));
    if (con->pk_attrs != NIL)
        appendStringInfo(&buf, " %s", name_list(con->pk_attrs));
    if (con->fk_matchtype == FKCONSTR_MATCH_FULL)
        appendStringInfoString(&buf, " MATCH FULL");
    if (const char *a = fk_action(con->fk_del_action))
        appendStringInfo(&buf, " ON DELETE %s", a);
    if (const char *a = fk_action(con->fk_upd_action))
        appendStringInfo(&buf, " ON UPDATE %s", a);
    return buf.data;
}

const char *choose_name(Oid relid, const char *col, const char *label) {
    return quote_identifier(
        ChooseConstraintName(get_rel_name(relid), col, label, get_rel_namespace(relid), NIL));
}

const char *written_expr(const char *query, int location) {
    if (query == nullptr || location < 0)
        return "...";
    std::string text;
    {
        text = sc::ddl::parenthesized_after(query, static_cast<std::size_t>(location));
    }
    return text.empty() ? "..." : pg_strdup_cpp(text);
}

// Facts of ADD COLUMN. Returns false when something is off that PostgreSQL will report itself
// (an unknown type): the statement then runs as sent.
bool gather_add_column(const CStatement *s, AlterTableCmd *cmd, CCommand *c, const char *query, bool strict) {
    auto *def = castNode(ColumnDef, cmd->def);
    c->kind = sc::ddl::Kind::add_column;
    c->column_name = def->colname;
    c->column = quote_identifier(def->colname);
    c->if_not_exists = cmd->missing_ok;
    c->column_exists = get_attnum(s->relid, def->colname) != InvalidAttrNumber;
    if (c->column_exists)
        return true;  // PostgreSQL says "already exists" (or skips, with IF NOT EXISTS)
    TypeName *tn = def->typeName;
    Oid typid = InvalidOid;
    int32 typmod = -1;
    const char *serial_type = nullptr;
    if (tn && list_length(tn->names) == 1 && !tn->pct_type && is_serial_name(strVal(linitial(tn->names)), &serial_type)) {
        c->serial = true;
        c->type = serial_type;
        typid = serial_type[0] == 's' ? INT2OID : serial_type[0] == 'i' ? INT4OID : INT8OID;
    } else if (strict) {
        typenameTypeIdAndMod(nullptr, tn, &typid, &typmod);  // PostgreSQL's own error for an unknown type
        c->type = format_type_with_typemod(typid, typmod);
        c->domain_constraints = DomainHasConstraints(typid);
    } else {
        Type t = LookupTypeName(nullptr, tn, &typmod, true);
        if (t == nullptr)
            return false;
        typid = typeTypeId(t);
        ReleaseSysCache(t);
        c->type = format_type_with_typemod(typid, typmod);
        c->domain_constraints = DomainHasConstraints(typid);
    }
    c->collate = def->collClause != nullptr;
    Oid nsp = get_rel_namespace(s->relid);
    const char *relname = get_rel_name(s->relid);
    ListCell *lc;
    foreach (lc, def->constraints) {
        auto *con = lfirst_node(Constraint, lc);
        switch (con->contype) {
        case CONSTR_DEFAULT: {
            ParseState *pstate = make_parsestate(nullptr);
            pstate->p_sourcetext = query;
            Node *cooked = cookDefault(pstate, con->raw_expr, typid, typmod, def->colname, '\0');
            if (cooked == nullptr || (IsA(cooked, Const) && castNode(Const, cooked)->constisnull))
                break;  // DEFAULT NULL: no default
            Node *planned = reinterpret_cast<Node *>(expression_planner(static_cast<Expr *>(copyObjectImpl(cooked))));
            c->default_volatile = contain_volatile_functions(planned);
            c->default_expr = deparse_expression(cooked, NIL, false, false);
            c->default_expr_qualified = deparse_qualified(cooked, NIL);
            break;
        }
        case CONSTR_NOTNULL:
            c->not_null = true;
            break;
        case CONSTR_IDENTITY:
            c->identity = true;
            break;
        case CONSTR_GENERATED:
            c->generated = true;
            break;
        case CONSTR_CHECK:
            c->check = written_expr(query, con->location);
            c->check_name = con->conname ? quote_identifier(con->conname) : choose_name(s->relid, def->colname, "check");
            break;
        case CONSTR_UNIQUE:
        case CONSTR_PRIMARY:
            if (con->contype == CONSTR_UNIQUE)
                c->unique = true;
            else
                c->primary_key = true;
            c->unique_name = con->conname ? quote_identifier(con->conname)
                                          : choose_name(s->relid, con->contype == CONSTR_UNIQUE ? def->colname : nullptr,
                                                        con->contype == CONSTR_UNIQUE ? "key" : "pkey");
            break;
        case CONSTR_FOREIGN:
            if (!OidIsValid(RangeVarGetRelid(con->pktable, NoLock, true)))
                return false;  // PostgreSQL reports the missing table
            c->references = fk_target_text(con);
            c->fk_name = con->conname ? quote_identifier(con->conname) : choose_name(s->relid, def->colname, "fkey");
            break;
        default:
            break;
        }
    }
    if (c->primary_key && c->check_name == nullptr)
        c->check_name = choose_name(s->relid, def->colname, "not_null");
    if (c->serial || c->identity) {
        char *seq = ChooseRelationName(relname, def->colname, "seq", nsp, false);
        c->sequence = quote_qualified_identifier(get_namespace_name(nsp), seq);
    }
    return true;
}

// A valid CHECK constraint proves the column NOT NULL: the test SET NOT NULL makes to skip its scan.
bool not_null_implied(Oid relid, AttrNumber attnum) {
    Relation rel = table_open(relid, NoLock);
    Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
    NullTest *test = makeNode(NullTest);
    test->arg = reinterpret_cast<Expr *>(
        makeVar(1, attr->attnum, attr->atttypid, attr->atttypmod, attr->attcollation, 0));
    test->nulltesttype = IS_NOT_NULL;
    test->argisrow = false;
    test->location = -1;
    bool implied = PartConstraintImpliedByRelConstraint(rel, list_make1(test));
    table_close(rel, NoLock);
    return implied;
}

void gather_set_not_null(const CStatement *s, AlterTableCmd *cmd, CCommand *c, bool locked) {
    c->kind = sc::ddl::Kind::set_not_null;
    c->column_name = cmd->name;
    c->column = quote_identifier(cmd->name);
    c->constraint = choose_name(s->relid, cmd->name, "not_null");
    HeapTuple tup = SearchSysCacheAttName(s->relid, cmd->name);
    if (!HeapTupleIsValid(tup)) {
        c->kind = sc::ddl::Kind::other;  // PostgreSQL reports the unknown column
        return;
    }
    auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tup));
    c->attnum = att->attnum;
    c->already_not_null = att->attnotnull;
    ReleaseSysCache(tup);
    if (!c->already_not_null && locked && get_rel_relkind(s->relid) == RELKIND_RELATION)
        c->implied_by_check = not_null_implied(s->relid, c->attnum);
}

// ALTER COLUMN ... TYPE: PostgreSQL keeps the stored values when the planned conversion is the column
// itself, relabeled (binary-compatible types, a longer varchar), through domains without constraints,
// or a timestamp <-> timestamptz cast while the session's time zone is UTC; anything else converts
// every value, in a rewrite of the table (the rule of ATColumnChangeRequiresRewrite in tablecmds.c).
bool conversion_rewrites(Node *expr, AttrNumber attnum) {
    for (;;) {
        if (IsA(expr, Var))
            return castNode(Var, expr)->varattno != attnum;
        if (IsA(expr, RelabelType)) {
            expr = reinterpret_cast<Node *>(castNode(RelabelType, expr)->arg);
        } else if (IsA(expr, CoerceToDomain)) {
            auto *d = castNode(CoerceToDomain, expr);
            if (DomainHasConstraints(d->resulttype))
                return true;
            expr = reinterpret_cast<Node *>(d->arg);
        } else if (IsA(expr, FuncExpr)) {
            auto *f = castNode(FuncExpr, expr);
            bool tz_cast = f->funcid == F_TIMESTAMPTZ_TIMESTAMP || f->funcid == F_TIMESTAMP_TIMESTAMPTZ;
            if (!tz_cast || TimestampTimestampTzRequiresRewrite())
                return true;
            expr = static_cast<Node *>(linitial(f->args));
        } else {
            return true;
        }
    }
}

struct TypeChange {
    Oid relid;
    AttrNumber attnum;
    TypeName *type_name;
    Node *using_raw;  // the USING expression, or NULL
    const char *query;
    Oid typid;        // out: the new type
    int32 typmod;
    bool known;       // out: the conversion exists (otherwise PostgreSQL reports why)
    bool rewrite;
    char *using_text;  // out: the USING expression deparsed, schema-qualified
};

// Builds the conversion as ALTER TABLE will (run in a subtransaction: any error leaves the statement
// to PostgreSQL, which reports it in its own words). With USING, the caller holds a lock on the table.
void build_type_change(void *arg) {
    auto *t = static_cast<TypeChange *>(arg);
    typenameTypeIdAndMod(nullptr, t->type_name, &t->typid, &t->typmod);
    ParseState *pstate = make_parsestate(nullptr);
    pstate->p_sourcetext = t->query;
    Node *transform;
    if (t->using_raw != nullptr) {
        Relation rel = relation_open(t->relid, NoLock);
        ParseNamespaceItem *nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock, nullptr, false, true);
        addNSItemToQuery(pstate, nsitem, false, true, true);
        transform = transformExpr(pstate, static_cast<Node *>(copyObjectImpl(t->using_raw)),
                                  EXPR_KIND_ALTER_COL_TRANSFORM);
        relation_close(rel, NoLock);
        t->using_text = deparse_qualified(transform, deparse_context_for(get_rel_name(t->relid), t->relid));
        transform = coerce_to_target_type(pstate, transform, exprType(transform), t->typid, t->typmod,
                                          COERCION_ASSIGNMENT, COERCE_IMPLICIT_CAST, -1);
    } else {
        Oid atttype, attcoll;
        int32 atttypmod;
        get_atttypetypmodcoll(t->relid, t->attnum, &atttype, &atttypmod, &attcoll);
        Node *var = reinterpret_cast<Node *>(makeVar(1, t->attnum, atttype, atttypmod, attcoll, 0));
        transform = coerce_to_target_type(pstate, var, atttype, t->typid, t->typmod, COERCION_ASSIGNMENT,
                                          COERCE_IMPLICIT_CAST, -1);
    }
    if (transform == nullptr)
        return;  // no assignment cast: PostgreSQL says so
    assign_expr_collations(pstate, transform);
    transform = reinterpret_cast<Node *>(expression_planner(reinterpret_cast<Expr *>(transform)));
    t->rewrite = conversion_rewrites(transform, t->attnum);
    t->known = true;
}

// A free name for the column of the new type: col_new, col_new1, ...
const char *free_column_name(Oid relid, const char *col) {
    for (int i = 0;; i++) {
        char label[16];
        snprintf(label, sizeof label, i == 0 ? "new" : "new%d", i);
        char *name = makeObjectName(col, nullptr, label);
        if (get_attnum(relid, name) == InvalidAttrNumber)
            return name;
    }
}

void gather_alter_type(const CStatement *s, AlterTableCmd *cmd, CCommand *c, const char *query, bool locked) {
    if (cmd->def == nullptr || !IsA(cmd->def, ColumnDef))
        return;
    auto *def = castNode(ColumnDef, cmd->def);
    AttrNumber attnum = get_attnum(s->relid, cmd->name);
    if (attnum <= 0 || def->typeName == nullptr)
        return;  // an unknown or system column: PostgreSQL reports it
    // An inherited column (of a partition or child) and a typed table's column cannot change type:
    // PostgreSQL says so.
    HeapTuple atttup = SearchSysCacheAttNum(s->relid, attnum);
    if (!HeapTupleIsValid(atttup))
        return;
    bool inherited = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(atttup))->attinhcount > 0;
    ReleaseSysCache(atttup);
    HeapTuple reltup = SearchSysCache1(RELOID, ObjectIdGetDatum(s->relid));
    if (!HeapTupleIsValid(reltup))
        return;
    bool typed = OidIsValid(reinterpret_cast<Form_pg_class>(GETSTRUCT(reltup))->reloftype);
    ReleaseSysCache(reltup);
    if (inherited || typed)
        return;
    TypeChange t{};
    t.relid = s->relid;
    t.attnum = attnum;
    t.type_name = def->typeName;
    t.using_raw = def->raw_default;
    t.query = query;
    // A USING expression is analyzed against the table, which needs a lock: warn mode holds none and
    // takes one only if it can at once; otherwise the expression is taken to convert every value (it
    // does, but for a bare USING col, which nobody writes).
    bool share_locked = t.using_raw != nullptr && !locked && ConditionalLockRelationOid(s->relid, AccessShareLock);
    if (t.using_raw != nullptr && !locked && !share_locked) {
        Type typ = LookupTypeName(nullptr, def->typeName, &t.typmod, true);
        if (typ == nullptr)
            return;
        t.typid = typeTypeId(typ);
        ReleaseSysCache(typ);
        t.known = t.rewrite = true;
        t.using_text = pstrdup("...");
    } else {
        ErrorData *edata = run_in_subtransaction(build_type_change, &t);
        if (share_locked)
            UnlockRelationOid(s->relid, AccessShareLock);
        if (edata != nullptr) {
            FreeErrorData(edata);
            return;
        }
    }
    if (!t.known)
        return;
    c->kind = sc::ddl::Kind::alter_type;
    c->column_name = cmd->name;
    c->column = quote_identifier(cmd->name);
    c->type = format_type_with_typemod(t.typid, t.typmod);
    c->type_rewrite = t.rewrite;
    c->using_expr = t.using_text;
    c->new_column_name = free_column_name(s->relid, cmd->name);
    c->new_column = quote_identifier(c->new_column_name);
}

// A statement that PostgreSQL will reject anyway gets PostgreSQL's own error, not a refusal: names
// that do not resolve leave the subcommand unclassified (run as sent, so PostgreSQL reports them).
struct ColumnRefCheck {
    Oid relid;
    bool ok;
};

bool column_refs_resolve(Node *node, void *arg) {
    if (node == nullptr)
        return false;
    auto *check = static_cast<ColumnRefCheck *>(arg);
    if (IsA(node, ColumnRef)) {
        auto *ref = castNode(ColumnRef, node);
        Node *last = static_cast<Node *>(llast(ref->fields));
        if (list_length(ref->fields) != 1 || !IsA(last, String) ||
            get_attnum(check->relid, strVal(last)) == InvalidAttrNumber)
            check->ok = false;
        return false;
    }
#if PG_VERSION_NUM >= 160000
    return raw_expression_tree_walker(node, column_refs_resolve, arg);
#else
    // Before 16 the walker is declared bool (*)(): cast through void (*)(), the generic function type.
    using Walker = bool (*)();
    return raw_expression_tree_walker(node, reinterpret_cast<Walker>(reinterpret_cast<void (*)()>(column_refs_resolve)),
                                      arg);
#endif
}

bool columns_exist(Oid relid, List *names) {
    ListCell *lc;
    foreach (lc, names)
        if (get_attnum(relid, strVal(lfirst(lc))) == InvalidAttrNumber)
            return false;
    return true;
}

void gather_add_constraint(const CStatement *s, AlterTableCmd *cmd, CCommand *c, const char *query) {
    if (!IsA(cmd->def, Constraint))
        return;
    auto *con = castNode(Constraint, cmd->def);
    c->not_valid = con->skip_validation;
    switch (con->contype) {
    case CONSTR_CHECK: {
        ColumnRefCheck check{s->relid, true};
        (void)column_refs_resolve(con->raw_expr, &check);
        if (!check.ok)
            return;
        c->kind = sc::ddl::Kind::add_check;
        c->expr = written_expr(query, con->location);
        c->constraint = con->conname ? quote_identifier(con->conname) : choose_name(s->relid, nullptr, "check");
        break;
    }
    case CONSTR_FOREIGN:
        if (!columns_exist(s->relid, con->fk_attrs) || !OidIsValid(RangeVarGetRelid(con->pktable, NoLock, true)))
            return;
        c->kind = sc::ddl::Kind::add_foreign_key;
        c->keys = name_list(con->fk_attrs);
        c->fk_target = fk_target_text(con);
        c->constraint = con->conname ? quote_identifier(con->conname)
                                     : choose_name(s->relid, con->fk_attrs ? strVal(linitial(con->fk_attrs)) : nullptr,
                                                   "fkey");
        break;
    case CONSTR_UNIQUE:
    case CONSTR_PRIMARY:
        if (!columns_exist(s->relid, con->keys))
            return;
        c->kind = con->contype == CONSTR_UNIQUE ? sc::ddl::Kind::add_unique : sc::ddl::Kind::add_primary_key;
        c->using_index = con->indexname != nullptr;
        c->keys = name_list(con->keys);
        c->constraint = con->conname ? quote_identifier(con->conname)
                        : con->indexname ? quote_identifier(con->indexname)
                                         : choose_name(s->relid,
                                                       con->contype == CONSTR_UNIQUE && con->keys
                                                           ? strVal(linitial(con->keys))
                                                           : nullptr,
                                                       con->contype == CONSTR_UNIQUE ? "key" : "pkey");
        break;
    case CONSTR_EXCLUSION: {
        // Its index is built under ACCESS EXCLUSIVE; named as PostgreSQL names it (the first column).
        const char *first = nullptr;
        if (con->exclusions != NIL) {
            auto *pair = static_cast<List *>(linitial(con->exclusions));
            auto *elem = static_cast<Node *>(linitial(pair));
            if (IsA(elem, IndexElem) && castNode(IndexElem, elem)->name != nullptr)
                first = castNode(IndexElem, elem)->name;
        }
        ListCell *ec;
        foreach (ec, con->exclusions) {
            auto *elem = static_cast<Node *>(linitial(static_cast<List *>(lfirst(ec))));
            if (IsA(elem, IndexElem) && castNode(IndexElem, elem)->name != nullptr &&
                get_attnum(s->relid, castNode(IndexElem, elem)->name) == InvalidAttrNumber)
                return;  // PostgreSQL reports the unknown column
        }
        c->kind = sc::ddl::Kind::add_exclusion;
        c->constraint = con->conname ? quote_identifier(con->conname) : choose_name(s->relid, first, "excl");
        break;
    }
    default:
        break;  // others: not classified
    }
}

// SET TABLESPACE that moves an ordinary table's data elsewhere (the same tablespace: nothing to do;
// an unknown one: PostgreSQL says so; a partitioned table: only the default for new partitions).
void gather_set_tablespace(const CStatement *s, AlterTableCmd *cmd, CCommand *c) {
    if (get_rel_relkind(s->relid) != RELKIND_RELATION || cmd->name == nullptr)
        return;
    Oid space = get_tablespace_oid(cmd->name, true);
    if (!OidIsValid(space))
        return;
    if (space == MyDatabaseTableSpace)
        space = InvalidOid;  // pg_class records the database's default tablespace as 0
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(s->relid));
    if (!HeapTupleIsValid(tup))
        return;
    Oid current = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->reltablespace;
    ReleaseSysCache(tup);
    if (space == current)
        return;
    c->kind = sc::ddl::Kind::set_tablespace;
    c->target = quote_identifier(cmd->name);
}

// SET LOGGED / SET UNLOGGED of an ordinary table that is not so already: a rewrite.
void gather_set_persistence(const CStatement *s, AlterTableCmd *cmd, CCommand *c) {
    if (get_rel_relkind(s->relid) != RELKIND_RELATION)
        return;
    bool to_logged = cmd->subtype == AT_SetLogged;
    char now = get_rel_persistence(s->relid);
    if ((to_logged && now != RELPERSISTENCE_UNLOGGED) || (!to_logged && now != RELPERSISTENCE_PERMANENT))
        return;
    c->kind = sc::ddl::Kind::set_persistence;
    c->target = to_logged ? "LOGGED" : "UNLOGGED";
}

// Heap and TOAST, and index sizes, of the table and all its partitions or children. Exact when the
// caller holds a lock or one can be had at once (pg_table_size opens the relation); otherwise
// pg_class.relpages, never waiting in the lock queue.
void measure(CStatement *s, bool locked) {
    List *parts = s->inh ? find_all_inheritors(s->relid, NoLock, nullptr) : list_make1_oid(s->relid);
    ListCell *lc;
    foreach (lc, parts) {
        Oid part = lfirst_oid(lc);
        char kind = get_rel_relkind(part);
        if (kind != RELKIND_RELATION)
            continue;
        bool have = locked;
        bool took = false;
        if (!have && ConditionalLockRelationOid(part, AccessShareLock))
            have = took = true;
        if (have && SearchSysCacheExists1(RELOID, ObjectIdGetDatum(part))) {
            s->table_bytes += DatumGetInt64(DirectFunctionCall1(pg_table_size, ObjectIdGetDatum(part)));
            s->index_bytes += DatumGetInt64(DirectFunctionCall1(pg_indexes_size, ObjectIdGetDatum(part)));
        } else {
            HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(part));
            if (HeapTupleIsValid(tup)) {
                auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
                s->table_bytes += static_cast<int64>(form->relpages) * BLCKSZ;
                ReleaseSysCache(tup);
            }
        }
        if (took)
            UnlockRelationOid(part, AccessShareLock);
    }
}

bool needs_row_check(const CStatement *s) {
    for (int i = 0; i < s->ncmds; i++) {
        const CCommand &c = s->cmds[i];
        if (c.kind == sc::ddl::Kind::add_column && c.not_null && !c.column_exists && c.default_expr == nullptr)
            return true;
    }
    return false;
}

bool table_has_rows(const CStatement *s) {
    char *query = psprintf("SELECT EXISTS (SELECT FROM %s%s)", s->inh ? "" : "ONLY ", s->table);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    int rc = SPI_execute(query, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    bool isnull;
    bool rows = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    SPI_finish();
    return rows;
}

// The facts that need no lock. NULL: not a statement safe_column looks at.
CStatement *gather_statement(AlterTableStmt *ats, bool missing_ok) {
    if (ats->objtype != OBJECT_TABLE || ats->relation == nullptr)
        return nullptr;
    Oid relid = RangeVarGetRelid(ats->relation, NoLock, missing_ok);
    if (!OidIsValid(relid))
        return nullptr;
    char kind = get_rel_relkind(relid);
    if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
        return nullptr;
    auto *s = static_cast<CStatement *>(palloc0(sizeof(CStatement)));
    s->relid = relid;
    s->inh = ats->relation->inh;
    const char *relname = get_rel_name(relid);
    s->table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), relname);
    s->table_name = psprintf("\"%s\"", relname);
    s->has_rows = true;
    s->ncmds = list_length(ats->cmds);
    s->cmds = static_cast<CCommand *>(palloc0(sizeof(CCommand) * (s->ncmds > 0 ? s->ncmds : 1)));
    return s;
}

// The facts of every subcommand. False: leave the statement to PostgreSQL as sent.
bool gather_commands(CStatement *s, AlterTableStmt *ats, const char *query, bool locked, bool strict = false) {
    int i = 0;
    ListCell *lc;
    foreach (lc, ats->cmds) {
        auto *cmd = lfirst_node(AlterTableCmd, lc);
        CCommand *c = &s->cmds[i++];
        c->kind = sc::ddl::Kind::other;
        c->lockmode = AlterTableGetLockLevel(list_make1(cmd));
        switch (cmd->subtype) {
        case AT_AddColumn:
            // ALTER TABLE ONLY on a table with children: PostgreSQL refuses ADD COLUMN; let it say so.
            if (!s->inh && has_subclass(s->relid))
                break;
            if (IsA(cmd->def, ColumnDef) && !gather_add_column(s, cmd, c, query, strict))
                return false;
            break;
        case AT_SetNotNull:
            gather_set_not_null(s, cmd, c, locked);
            break;
        case AT_AddConstraint:
            gather_add_constraint(s, cmd, c, query);
            break;
        case AT_SetTableSpace:
            gather_set_tablespace(s, cmd, c);
            break;
        case AT_SetLogged:
        case AT_SetUnLogged:
            gather_set_persistence(s, cmd, c);
            break;
        case AT_AlterColumnType:
            // ALTER TABLE ONLY on a table with children: PostgreSQL refuses to change the type of an
            // inherited column in the parent alone; let it say so.
            if (!s->inh && has_subclass(s->relid))
                break;
            gather_alter_type(s, cmd, c, query, locked);
            break;
        default:
            break;
        }
    }
    return true;
}

bool invisible_to_others(Oid relid) {
    if (get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
        return true;
    Relation r = RelationIdGetRelation(relid);
    if (r == nullptr)
        return false;
    bool created_here = r->rd_createSubid != InvalidSubTransactionId;
    RelationClose(r);
    return created_here;
}

bool attaches_or_detaches(AlterTableStmt *ats) {
    ListCell *lc;
    foreach (lc, ats->cmds) {
        AlterTableType t = lfirst_node(AlterTableCmd, lc)->subtype;
        if (t == AT_AttachPartition || t == AT_DetachPartition || t == AT_DetachPartitionFinalize)
            return true;
    }
    return false;
}

bool extension_installed() {
    return OidIsValid(get_extension_oid("safe_column", true));
}

const char *mode_name(sc::ddl::Mode m) {
    for (const auto *o = mode_options; o->name; o++)
        if (o->val == static_cast<int>(m))
            return o->name;
    return "?";
}

// The tables the statement's new foreign keys reference (ADD CONSTRAINT ... FOREIGN KEY, ADD COLUMN ...
// REFERENCES), other than the table itself: PostgreSQL locks each of them, and its partitions, in SHARE
// ROW EXCLUSIVE mode, which blocks their writes while it waits in their lock queue.
List *referenced_tables(AlterTableStmt *ats, Oid relid) {
    List *refs = NIL;
    auto add = [&refs, relid](Constraint *con) {
        if (con->contype != CONSTR_FOREIGN || con->pktable == nullptr)
            return;
        Oid ref = RangeVarGetRelid(con->pktable, NoLock, true);
        if (OidIsValid(ref) && ref != relid)
            refs = list_append_unique_oid(refs, ref);  // a missing table: PostgreSQL reports it
    };
    ListCell *lc;
    foreach (lc, ats->cmds) {
        auto *cmd = castNode(AlterTableCmd, lfirst(lc));
        if (cmd->subtype == AT_AddConstraint && cmd->def != nullptr && IsA(cmd->def, Constraint))
            add(castNode(Constraint, cmd->def));
        else if (cmd->subtype == AT_AddColumn && cmd->def != nullptr && IsA(cmd->def, ColumnDef)) {
            ListCell *cc;
            foreach (cc, castNode(ColumnDef, cmd->def)->constraints)
                if (IsA(lfirst(cc), Constraint))
                    add(castNode(Constraint, lfirst(cc)));
        }
    }
    return refs;
}

// The relations of rels (a List of OIDs) that other sessions can see, without duplicates.
List *visible_to_others(List *rels) {
    List *visible = NIL;
    ListCell *lc;
    foreach (lc, rels)
        if (!invisible_to_others(lfirst_oid(lc)))
            visible = list_append_unique_oid(visible, lfirst_oid(lc));
    return visible;
}

// "a", "b" for the relations of rels from the from-th on, for messages.
char *quoted_rel_names(List *rels, int from) {
    StringInfoData names;
    initStringInfo(&names);
    for (int i = from; i < list_length(rels); i++) {
        char *name = get_rel_name(list_nth_oid(rels, i));
        appendStringInfo(&names, "%s\"%s\"", i > from ? ", " : "", name ? name : "?");
    }
    return names.data;
}

// ", which also locks "b", "c"" for the relations of rels after the first; "" when there are none.
char *also_locks_text(List *rels) {
    return list_length(rels) > 1 ? psprintf(", which also locks %s", quoted_rel_names(rels, 1)) : pstrdup("");
}

// An ALTER TABLE on a table created in this transaction (CREATE TABLE ... REFERENCES runs its
// foreign keys as one; migrations often add them in the creating transaction): the table keeps
// nobody waiting, but the tables its new foreign keys reference do, since PostgreSQL locks them and
// their partitions SHARE ROW EXCLUSIVE with an ordinary wait (even for a temporary table, whose
// foreign keys it then refuses: they may reference temporary tables only).
void lock_referenced_of_new_table(AlterTableStmt *ats, Oid relid, sc::ddl::Mode mode) {
    List *refs = visible_to_others(referenced_tables(ats, relid));
    if (refs == NIL)
        return;
    Oid first = linitial_oid(refs);
    char *what = psprintf("add a foreign key to \"%s\", created in this transaction%s (safe_column.mode = %s)",
                          get_rel_name(relid), also_locks_text(refs), mode_name(mode));
    (void)lock_queue_safe(first, ShareRowExclusiveLock, get_rel_relkind(first) == RELKIND_PARTITIONED_TABLE, what,
                          list_copy_tail(refs, 1), ShareRowExclusiveLock);
}

// CREATE TABLE ... PARTITION OF locks the parent ACCESS EXCLUSIVE (its partition descriptor changes),
// and the parent's default partition with its partitions too (rows of the new range must not be
// there); CREATE TABLE ... INHERITS locks each parent SHARE UPDATE EXCLUSIVE. PostgreSQL waits for
// those locks in the ordinary way, so that behind one long query on the parent, every later query on
// it waits too. guard and stage take them queue-safely first. A parent this role does not own is
// left to PostgreSQL, which refuses it.
void lock_parents_of_new_table(CreateStmt *cs, sc::ddl::Mode mode) {
    if (cs->inhRelations == NIL || cs->relation == nullptr)
        return;
    List *parents = NIL;
    ListCell *lc;
    foreach (lc, cs->inhRelations) {
        Oid parent = RangeVarGetRelid(lfirst_node(RangeVar, lc), NoLock, true);
        if (!OidIsValid(parent) || !pg_class_ownercheck(parent, GetUserId()))
            return;  // PostgreSQL reports a missing parent or one this role may not inherit from
        parents = list_append_unique_oid(parents, parent);
    }
    bool partition = cs->partbound != nullptr;
    if (partition && get_rel_relkind(linitial_oid(parents)) == RELKIND_PARTITIONED_TABLE) {
        Oid def = get_default_partition_oid(linitial_oid(parents));
        if (OidIsValid(def) && !cs->partbound->is_default)
            parents = list_append_unique_oid(parents, def);
    }
    parents = visible_to_others(parents);
    if (parents == NIL)
        return;
    char *what = psprintf("create \"%s\" as a %s of it%s (safe_column.mode = %s)", cs->relation->relname,
                          partition ? "partition" : "child", also_locks_text(parents), mode_name(mode));
    LOCKMODE lockmode = partition ? AccessExclusiveLock : ShareUpdateExclusiveLock;
    (void)lock_queue_safe(linitial_oid(parents), lockmode, false, what, list_copy_tail(parents, 1), lockmode);
}

// ALTER TABLE ... ATTACH PARTITION locks the parent SHARE UPDATE EXCLUSIVE, and the table it attaches
// (with its partitions) and the parent's default partition ACCESS EXCLUSIVE; DETACH PARTITION without
// CONCURRENTLY locks the parent, the partition (with its partitions) and the default partition ACCESS
// EXCLUSIVE (checked in pg_locks, PostgreSQL 15). PostgreSQL waits for them in the ordinary way, so
// that behind one long query on the parent or its default partition, every later query on it waits
// too: the classic stall of a nightly partition rotation. guard and stage take them queue-safely
// first. DETACH ... CONCURRENTLY and FINALIZE are left to PostgreSQL (SHARE UPDATE EXCLUSIVE, and
// they wait for older snapshots by design), as is a partition this role does not own or that does
// not exist (PostgreSQL reports it).
void lock_partition_change(AlterTableStmt *ats, Oid parent, sc::ddl::Mode mode) {
    if (list_length(ats->cmds) != 1 || get_rel_relkind(parent) != RELKIND_PARTITIONED_TABLE)
        return;
    AlterTableCmd *cmd = linitial_node(AlterTableCmd, ats->cmds);
    bool attach = cmd->subtype == AT_AttachPartition;
    if (!attach && cmd->subtype != AT_DetachPartition)
        return;
    PartitionCmd *pc = castNode(PartitionCmd, cmd->def);
    if (pc->concurrent || pc->name == nullptr)
        return;
    Oid part = RangeVarGetRelid(pc->name, NoLock, true);
    if (!OidIsValid(part) || !pg_class_ownercheck(part, GetUserId()))
        return;
    List *also = list_make1_oid(part);  // the partition named in the message, then the default partition
    Oid def = get_default_partition_oid(parent);
    if (OidIsValid(def))
        also = list_append_unique_oid(also, def);
    char *what = psprintf("%s \"%s\" %s it%s (safe_column.mode = %s)", attach ? "attach" : "detach",
                          get_rel_name(part), attach ? "to" : "from", also_locks_text(also), mode_name(mode));
    (void)lock_queue_safe(parent, AlterTableGetLockLevel(ats->cmds), false, what, also, AccessExclusiveLock);
}

// ---------------------------------------------------------------------------------------------
// The hook.

enum class HookOutcome { pass, done };

// CREATE TABLE and CREATE FOREIGN TABLE (whose statement begins with a CreateStmt).
void guard_create_table(CreateStmt *cs) {
    auto mode = static_cast<sc::ddl::Mode>(ddl_mode);
    if (mode == sc::ddl::Mode::off || mode == sc::ddl::Mode::warn || in_safe_column_ddl || creating_extension ||
        IsBinaryUpgrade || !IsNormalProcessingMode() || !extension_installed())
        return;
    lock_parents_of_new_table(cs, mode);
}

HookOutcome stage(const CStatement *s) {
    for (int i = 0; i < s->ncmds; i++) {
        const CCommand &c = s->cmds[i];
        if (c.column_exists && c.if_not_exists) {
            ereport(NOTICE, (errcode(ERRCODE_DUPLICATE_COLUMN),
                             errmsg("column \"%s\" of relation \"%s\" already exists, skipping", c.column_name,
                                    get_rel_name(s->relid))));
            continue;
        }
        int64 job = add_column_job(s->relid, c.column_name, c.type,
                                   c.default_expr_qualified ? pstrdup(c.default_expr_qualified) : nullptr, c.not_null,
                                   nullptr);
        ereport(NOTICE,
                (errmsg("safe_column staged ADD COLUMN %s of %s as job %lld", c.column, s->table_name,
                        static_cast<long long>(job)),
                 errdetail("New rows get the column's default from now on; existing rows read NULL until the "
                           "background worker has filled them%s.",
                           c.not_null ? ", and NOT NULL is enforced once every row has a value" : ""),
                 errhint("Wait for it with CALL safe_column_watch(%lld), or follow it in safe_column_progress.",
                         static_cast<long long>(job))));
    }
    return HookOutcome::done;
}

HookOutcome decide_and_act(PlannedStmt *pstmt, const char *query) {
    auto mode = static_cast<sc::ddl::Mode>(ddl_mode);
    if (mode == sc::ddl::Mode::off || in_safe_column_ddl || creating_extension || IsBinaryUpgrade ||
        !IsA(pstmt->utilityStmt, AlterTableStmt) || !IsNormalProcessingMode())
        return HookOutcome::pass;
    auto *ats = castNode(AlterTableStmt, pstmt->utilityStmt);
    if (ats->objtype != OBJECT_TABLE || !extension_installed())
        return HookOutcome::pass;
    CStatement *s = gather_statement(ats, true);
    // A table this role may not alter: PostgreSQL refuses it before taking any lock; so do we.
    if (s == nullptr || !pg_class_ownercheck(s->relid, GetUserId()))
        return HookOutcome::pass;
    // A table no other session can see (temporary, or created in this transaction) keeps nobody
    // waiting, whatever the statement does to it.
    if (invisible_to_others(s->relid)) {
        if (mode != sc::ddl::Mode::warn)
            lock_referenced_of_new_table(ats, s->relid, mode);
        return HookOutcome::pass;
    }

    // guard and stage take the statement's locks first, queue-safely; the facts gathered then are
    // current and the size exact. Statements that attach or detach partitions lock other tables too:
    // those locks are taken queue-safely, then PostgreSQL runs the statement.
    bool locked = false;
    if (mode != sc::ddl::Mode::warn) {
        if (attaches_or_detaches(ats)) {
            lock_partition_change(ats, s->relid, mode);
            return HookOutcome::pass;
        }
        LOCKMODE lockmode = AlterTableGetLockLevel(ats->cmds);
        char *what = psprintf("run ALTER TABLE (safe_column.mode = %s)", mode_name(mode));
        List *refs = referenced_tables(ats, s->relid);
        if (refs != NIL)
            what = psprintf("%s, which also locks %s (referenced by its foreign key%s)", what,
                            quoted_rel_names(refs, 0), list_length(refs) > 1 ? "s" : "");
        (void)lock_queue_safe(s->relid, lockmode, s->inh, what, refs, ShareRowExclusiveLock);
        locked = true;
    }
    if (!gather_commands(s, ats, query, locked))
        return HookOutcome::pass;
    measure(s, locked);
    if (needs_row_check(s) && (locked || ConditionalLockRelationOid(s->relid, AccessShareLock))) {
        s->has_rows = table_has_rows(s);
        if (!locked)
            UnlockRelationOid(s->relid, AccessShareLock);
    }

    CVerdict v = core_decide(s, mode);
    switch (v.action) {
    case sc::ddl::Action::run:
    case sc::ddl::Action::run_guarded:
        return HookOutcome::pass;
    case sc::ddl::Action::warn:
        ereport(WARNING, (errmsg_internal("%s", v.message), errdetail_internal("%s", v.detail),
                          v.hint[0] ? errhint("%s", v.hint) : 0));
        return HookOutcome::pass;
    case sc::ddl::Action::refuse:
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg_internal("%s", v.message),
                        errdetail_internal("%s", v.detail), errhint("%s", v.hint)));
        break;
    case sc::ddl::Action::stage:
        // ALTER TABLE ONLY on a table with children: PostgreSQL refuses ADD COLUMN; let it say so.
        if (!s->inh && has_subclass(s->relid))
            return HookOutcome::pass;
        return stage(s);
    }
    return HookOutcome::pass;
}

// ---------------------------------------------------------------------------------------------
// DROP DATABASE and ALTER DATABASE RENAME need the database to themselves: a safe_column worker
// connected to it would make them fail after five seconds ("being accessed by other users"), and a
// worker restarted after the drop would fail to connect every few seconds. So the database is held
// (no worker connects to it meanwhile) and its workers are asked to exit; at the end of the
// transaction a dropped database stays held, otherwise it is released and gets a worker again.

Oid held_db = InvalidOid;
bool held_for_drop = false;

void terminate_db_workers(Oid dboid) {
    int n = pgstat_fetch_stat_numbackends();
    for (int i = 1; i <= n; i++) {
        LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
        if (local == nullptr)
            continue;
        PgBackendStatus *be = &local->backendStatus;
        if (be->st_databaseid != dboid || be->st_backendType != B_BG_WORKER)
            continue;
        const char *type = GetBackgroundWorkerTypeByPid(be->st_procpid);
        if (type != nullptr && strcmp(type, "safe_column worker") == 0)
            (void)kill(be->st_procpid, SIGTERM);
    }
}

void hold_database_for(const char *dbname, bool drop) {
    if (dbname == nullptr || !shmem_ready())
        return;
    Oid dboid = get_database_oid(dbname, true);
    // Only for the one who may drop or rename it: nobody else can make the workers exit.
    if (!OidIsValid(dboid) || dboid == MyDatabaseId || !pg_database_ownercheck(dboid, GetUserId()))
        return;
    hold_database(dboid);
    held_db = dboid;
    held_for_drop = drop;
    terminate_db_workers(dboid);
}

void xact_callback(XactEvent event, void *) {
    // in_safe_column_ddl is set around the extension's own SPI DDL; an error there must not leave it set.
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
        in_safe_column_ddl = false;
    if (OidIsValid(held_db) && (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)) {
        if (event == XACT_EVENT_ABORT || !held_for_drop) {
            release_database(held_db);
            want_database(held_db);  // the launcher starts its worker again (it exits if no job)
        }
        held_db = InvalidOid;
    }
}

// ---------------------------------------------------------------------------------------------
// DROP EXTENSION safe_column: the helper constraint of an unfinished NOT NULL job (CHECK (col IS NOT
// NULL) NOT VALID) is not a member of the extension and would outlive it. Removed first, in the same
// transaction (a DROP that fails keeps them), each table's lock taken queue-safely.

bool drops_this_extension(DropStmt *drop) {
    if (drop->removeType != OBJECT_EXTENSION)
        return false;
    ListCell *lc;
    foreach (lc, drop->objects)
        if (strcmp(strVal(lfirst(lc)), "safe_column") == 0)
            return true;
    return false;
}

void drop_helper_constraints() {
    Oid ext = get_extension_oid("safe_column", true);
    if (!OidIsValid(ext))
        return;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    if (SPI_execute("SELECT n.nspname::text FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n"
                    " ON n.oid = e.extnamespace WHERE e.extname = 'safe_column'", true, 1) != SPI_OK_SELECT ||
        SPI_processed != 1)
        elog(ERROR, "extension safe_column has no schema");
    char *store = quote_qualified_identifier(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
                                             "safe_column_job_store");
    char *query = psprintf("SELECT j.relid, c.conname::text FROM %s j"
                           "  JOIN pg_catalog.pg_constraint c ON c.conrelid = j.relid AND c.conname = j.constraint_name"
                           " WHERE j.state NOT IN ('complete', 'cancelled')",
                           store);
    if (SPI_execute(query, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute failed: %s", query);
    int n = static_cast<int>(SPI_processed);
    SPITupleTable *tuptable = SPI_tuptable;
    for (int i = 0; i < n; i++) {
        bool isnull;
        Oid relid = DatumGetObjectId(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 1, &isnull));
        char *conname = SPI_getvalue(tuptable->vals[i], tuptable->tupdesc, 2);
        if (!pg_class_ownercheck(relid, GetUserId())) {
            ereport(WARNING, (errmsg("constraint \"%s\" of relation \"%s\" is left behind", conname,
                                     get_rel_name(relid)),
                              errdetail("It is the helper constraint of an unfinished safe_column job, and the "
                                        "current role does not own the table."),
                              errhint("The table's owner can drop it with ALTER TABLE ... DROP CONSTRAINT.")));
            continue;
        }
        (void)lock_queue_safe(relid, AccessExclusiveLock, false, "remove a helper constraint before DROP EXTENSION");
        char *ddl = psprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s",
                             quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid)),
                             quote_identifier(conname));
        run_extension_ddl(ddl);
    }
    SPI_finish();
}

// PostgreSQL 14 added readOnlyTree to the hook's arguments.
#if PG_VERSION_NUM >= 140000
#define SC_READONLY_PARAM bool readOnlyTree,
#define SC_READONLY_ARG readOnlyTree,
#else
#define SC_READONLY_PARAM
#define SC_READONLY_ARG
#endif

void call_next(PlannedStmt *pstmt, const char *queryString, SC_READONLY_PARAM ProcessUtilityContext context,
               ParamListInfo params, QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc) {
    if (prev_process_utility)
        prev_process_utility(pstmt, queryString, SC_READONLY_ARG context, params, queryEnv, dest, qc);
    else
        standard_ProcessUtility(pstmt, queryString, SC_READONLY_ARG context, params, queryEnv, dest, qc);
}

// The statement tree is only read, never changed, so readOnlyTree needs no copy.
void process_utility(PlannedStmt *pstmt, const char *queryString, SC_READONLY_PARAM ProcessUtilityContext context,
                     ParamListInfo params, QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc) {
    Node *stmt = pstmt->utilityStmt;
    if (IsA(stmt, DropdbStmt))
        cpp_entry("safe_column utility hook", [&] { hold_database_for(castNode(DropdbStmt, stmt)->dbname, true); });
    else if (IsA(stmt, DropStmt) && drops_this_extension(castNode(DropStmt, stmt)))
        cpp_entry("safe_column utility hook", [&] { drop_helper_constraints(); });
    else if (IsA(stmt, RenameStmt) && castNode(RenameStmt, stmt)->renameType == OBJECT_DATABASE)
        cpp_entry("safe_column utility hook", [&] { hold_database_for(castNode(RenameStmt, stmt)->subname, false); });
    // Most utility statements leave at once: one tag test.
    if (ddl_mode != static_cast<int>(sc::ddl::Mode::off) && !in_safe_column_ddl) {
        if (IsA(stmt, AlterTableStmt)) {
            HookOutcome outcome =
                cpp_entry("safe_column utility hook", [&] { return decide_and_act(pstmt, queryString); });
            if (outcome == HookOutcome::done)
                return;
        } else if ((IsA(stmt, CreateStmt) || IsA(stmt, CreateForeignTableStmt)) &&
                   reinterpret_cast<CreateStmt *>(stmt)->inhRelations != NIL) {
            cpp_entry("safe_column utility hook", [&] { guard_create_table(reinterpret_cast<CreateStmt *>(stmt)); });
        }
    }
    call_next(pstmt, queryString, SC_READONLY_ARG context, params, queryEnv, dest, qc);
}

void reset_on_subabort(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB)
        in_safe_column_ddl = false;
}

// ---------------------------------------------------------------------------------------------
// safe_column_plan(ddl text)

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

Datum plan_impl(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("ddl must not be null")));
    char *ddl = text_to_cstring(PG_GETARG_TEXT_PP(0));
    ErrorContextCallback cb;
    cb.callback = plan_error_callback;
    cb.arg = ddl;
    cb.previous = error_context_stack;
    error_context_stack = &cb;
    List *stmts = raw_parser(ddl, RAW_PARSE_DEFAULT);
    if (list_length(stmts) != 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("safe_column_plan explains exactly one statement, not %d", list_length(stmts)),
                        errhint("Pass one ALTER TABLE statement.")));
    RawStmt *raw = linitial_node(RawStmt, stmts);
    if (!IsA(raw->stmt, AlterTableStmt) || castNode(AlterTableStmt, raw->stmt)->objtype != OBJECT_TABLE)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("safe_column_plan explains ALTER TABLE statements only"),
                        errhint("Pass one ALTER TABLE statement on a table.")));
    auto *ats = castNode(AlterTableStmt, raw->stmt);
    CStatement *s = gather_statement(ats, false);
    if (s == nullptr)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is not a table", ats->relation->relname),
                        errhint("safe_column_plan explains ALTER TABLE statements on ordinary and partitioned "
                                "tables.")));
    (void)gather_commands(s, ats, ddl, false, true);
    error_context_stack = cb.previous;
    bool locked = ConditionalLockRelationOid(s->relid, AccessShareLock);
    measure(s, false);
    if (locked) {
        if (needs_row_check(s))
            s->has_rows = table_has_rows(s);
        UnlockRelationOid(s->relid, AccessShareLock);
    }
    CPlanStep *steps;
    int n = core_plan(s, ddl, &steps);

    auto mode = static_cast<sc::ddl::Mode>(ddl_mode);
    CVerdict v = core_decide(s, mode == sc::ddl::Mode::off ? sc::ddl::Mode::guard : mode);

    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    int row = 0;
    for (int i = 0; i <= n; i++) {
        Datum values[10];
        bool nulls[10] = {};
        if (i < n) {
            const CPlanStep &p = steps[i];
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
        } else {
            // The last row: what safe_column.mode does with the statement right now.
            const char *what;
            switch (v.action) {
            case sc::ddl::Action::refuse:
                what = psprintf("refused: %s", v.message);
                break;
            case sc::ddl::Action::stage:
                what = "staged: safe_add_column for each ADD COLUMN";
                break;
            case sc::ddl::Action::warn:
                what = psprintf("run as sent, after a WARNING: %s", v.message);
                break;
            default:
                what = mode == sc::ddl::Mode::warn ? "run as sent"
                       : v.below_min_size
                           ? "run as sent, after taking its lock queue-safely (the table is smaller than "
                             "safe_column.guard_min_size)"
                           : "run as sent, after taking its lock queue-safely";
                break;
            }
            values[1] = CStringGetTextDatum("verdict");
            nulls[2] = nulls[3] = nulls[8] = true;
            values[4] = values[5] = values[6] = BoolGetDatum(false);
            // With mode off the verdict was taken for guard: say both.
            values[9] = CStringGetTextDatum(mode == sc::ddl::Mode::off
                                                ? psprintf("safe_column.mode = off: run as sent; in mode guard: %s", what)
                                                : psprintf("safe_column.mode = %s: %s", mode_name(mode), what));
        }
        values[0] = Int32GetDatum(++row);
        values[7] = Int64GetDatum(s->table_bytes);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return static_cast<Datum>(0);
}

}  // namespace

void hook_init() {
    DefineCustomEnumVariable(
        "safe_column.mode", "What safe_column does with ALTER TABLE statements.",
        "off: nothing. warn: run them as sent, with a WARNING for those that rewrite, scan or build an index under "
        "a strong lock. guard: take every ALTER TABLE's lock queue-safely, and refuse those that would rewrite, scan "
        "or build an index on a table of safe_column.guard_min_size or more. stage: as guard, but run ADD COLUMN "
        "statements that safe_add_column can do as a staged job.",
        &ddl_mode, static_cast<int>(sc::ddl::Mode::guard), mode_options, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.guard_min_size", "Table size from which safe_column.mode refuses or stages heavy ALTER TABLEs.",
        "Smaller tables are altered as sent (their lock still taken queue-safely): their rewrite or scan is short.",
        &guard_min_size_kb, 10 * 1024, 0, INT_MAX, PGC_USERSET, GUC_UNIT_KB, nullptr, nullptr, nullptr);
    prev_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = process_utility;
    RegisterXactCallback(xact_callback, nullptr);
    RegisterSubXactCallback(reset_on_subabort, nullptr);
}

}  // namespace sc::pg

extern "C" {

PG_FUNCTION_INFO_V1(safe_column_plan);

Datum safe_column_plan(PG_FUNCTION_ARGS) {
    return sc::pg::cpp_entry("safe_column_plan", [&] { return sc::pg::plan_impl(fcinfo); });
}

}  // extern "C"
