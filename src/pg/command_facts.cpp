// The facts of each kind of ALTER TABLE subcommand the hook classifies (ADD COLUMN, SET NOT NULL,
// ALTER COLUMN TYPE, ADD CONSTRAINT, SET TABLESPACE, SET LOGGED / UNLOGGED), for the pure core's
// decision. gather_commands (hook_facts.cpp) calls them.
#include <climits>
#include <string>

#include "pg/add_column.hpp"
#include "pg/command_facts.hpp"
#include "pg/staged_serial.hpp"
#include "pg/guard.hpp"
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

#include "pg/compat.hpp"

namespace sc::pg {

// ---------------------------------------------------------------------------------------------
// Gathering the facts.

namespace {

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

// "other (id) MATCH FULL ON DELETE SET NULL (a) DEFERRABLE INITIALLY DEFERRED", from the parse tree.
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
        appendStringInfo(&buf, " ON DELETE %s%s%s", a, con->fk_del_set_cols != NIL ? " " : "",
                         con->fk_del_set_cols != NIL ? name_list(con->fk_del_set_cols) : "");
    if (const char *a = fk_action(con->fk_upd_action))
        appendStringInfo(&buf, " ON UPDATE %s", a);
    if (con->deferrable)
        appendStringInfoString(&buf, " DEFERRABLE");
    if (con->initdeferred)
        appendStringInfoString(&buf, " INITIALLY DEFERRED");
    return buf.data;
}

// DEFERRABLE, INITIALLY DEFERRED and their opposites come as constraints of their own after the one
// they qualify (`qualified`; PostgreSQL applies them in parse analysis): kept in the REFERENCES text,
// or in the UNIQUE / PRIMARY KEY's attributes for the guard's steps; after anything else false (the
// statement runs as sent, and PostgreSQL reports the misplaced clause).
bool constraint_attribute(const Constraint *con, ConstrType qualified, CCommand *c) {
    const char **text = qualified == CONSTR_UNIQUE || qualified == CONSTR_PRIMARY ? &c->unique_attributes
                        : qualified == CONSTR_FOREIGN && c->references != nullptr ? &c->references
                                                                                   : nullptr;
    if (text == nullptr)
        return false;
    const char *before = *text ? *text : "";
    bool index = text == &c->unique_attributes;
    if (con->contype == CONSTR_ATTR_DEFERRABLE) {
        *text = psprintf("%s DEFERRABLE", before);
        c->deferrable = c->deferrable || index;
    } else if (con->contype == CONSTR_ATTR_DEFERRED) {
        *text = psprintf("%s INITIALLY DEFERRED", before);
        c->initdeferred = c->initdeferred || index;
    }
    return true;  // NOT DEFERRABLE and INITIALLY IMMEDIATE are the defaults
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

// The new column's type: serial types by name (not real types yet in the raw tree), others looked up
// (strict: PostgreSQL's own error for an unknown type; otherwise false, and the statement runs as sent).
bool gather_column_type(TypeName *tn, bool strict, CCommand *c, Oid *typid, int32 *typmod) {
    const char *serial_type = nullptr;
    if (tn && list_length(tn->names) == 1 && !tn->pct_type &&
        (serial_type = serial_integer_type(strVal(linitial(tn->names)), true)) != nullptr) {
        c->serial = true;
        c->type = serial_type;
        *typid = serial_type[0] == 's' ? INT2OID : serial_type[0] == 'i' ? INT4OID : INT8OID;
    } else if (strict) {
        typenameTypeIdAndMod(nullptr, tn, typid, typmod);  // PostgreSQL's own error for an unknown type
        c->type = format_type_with_typemod(*typid, *typmod);
        c->domain_constraints = compat::domain_has_constraints(*typid);
    } else {
        Type t = LookupTypeName(nullptr, tn, typmod, true);
        if (t == nullptr)
            return false;
        *typid = typeTypeId(t);
        ReleaseSysCache(t);
        c->type = format_type_with_typemod(*typid, *typmod);
        c->domain_constraints = compat::domain_has_constraints(*typid);
    }
    return true;
}

}  // namespace

// Facts of ADD COLUMN. Returns false when something is off that PostgreSQL will report itself
// (an unknown type): the statement then runs as sent.
// COLLATE: written into the type as safe_add_column's column_type takes it (text COLLATE "C"); false
// for an unknown collation (PostgreSQL reports it).
bool gather_collate_clause(ColumnDef *def, bool strict, CCommand *c) {
    if (def->collClause == nullptr)
        return true;
    Oid coll = get_collation_oid(def->collClause->collname, !strict);
    if (!OidIsValid(coll))
        return false;
    if (coll != get_typcollation(c->typid))
        c->type = psprintf("%s COLLATE %s", c->type, generate_collation_name(coll));
    return true;
}

namespace {

// A DEFAULT clause, cooked as ALTER TABLE cooks it: its text, qualified text and volatility (DEFAULT
// NULL is no default).
void gather_default(Constraint *con, const char *query, Oid typid, int32 typmod, const char *colname, CCommand *c) {
    ParseState *pstate = make_parsestate(nullptr);
    pstate->p_sourcetext = query;
    Node *cooked = cookDefault(pstate, con->raw_expr, typid, typmod, colname, '\0');
    if (cooked == nullptr || (IsA(cooked, Const) && castNode(Const, cooked)->constisnull))
        return;
    Node *planned = reinterpret_cast<Node *>(expression_planner(static_cast<Expr *>(copyObjectImpl(cooked))));
    c->default_volatile = contain_volatile_functions(planned);
    c->default_expr = deparse_expression(cooked, NIL, false, false);
    c->default_expr_qualified = deparse_qualified(cooked, NIL);
}

}  // namespace

bool gather_add_column(const CStatement *s, AlterTableCmd *cmd, CCommand *c, const char *query, bool strict) {
    auto *def = castNode(ColumnDef, cmd->def);
    c->kind = sc::ddl::Kind::add_column;
    c->column_name = def->colname;
    c->column = quote_identifier(def->colname);
    c->if_not_exists = cmd->missing_ok;
    c->column_exists = get_attnum(s->relid, def->colname) != InvalidAttrNumber;
    if (c->column_exists)
        return true;  // PostgreSQL says "already exists" (or skips, with IF NOT EXISTS)
    Oid typid = InvalidOid;
    int32 typmod = -1;
    if (!gather_column_type(def->typeName, strict, c, &typid, &typmod))
        return false;
    c->typid = typid;
    if (!gather_collate_clause(def, strict, c))
        return false;
    ListCell *lc;
    ConstrType qualified = CONSTR_NULL;  // the constraint an attribute (DEFERRABLE, ...) qualifies
    foreach (lc, def->constraints) {
        auto *con = lfirst_node(Constraint, lc);
        bool attribute = con->contype == CONSTR_ATTR_DEFERRABLE || con->contype == CONSTR_ATTR_NOT_DEFERRABLE ||
                         con->contype == CONSTR_ATTR_DEFERRED || con->contype == CONSTR_ATTR_IMMEDIATE;
        if (attribute && !constraint_attribute(con, qualified, c))
            return false;
        qualified = attribute ? qualified : con->contype;
        switch (con->contype) {
        case CONSTR_DEFAULT:
            gather_default(con, query, typid, typmod, def->colname, c);
            break;
        case CONSTR_NOTNULL:
            c->not_null = true;
            break;
        case CONSTR_IDENTITY:
            c->identity = true;
            c->identity_always = con->generated_when == ATTRIBUTE_IDENTITY_ALWAYS;
            c->identity_options = con->options != NIL;
            break;
        case CONSTR_GENERATED:
            c->generated = compat::generated_stored(con);  // a virtual one (18+) is catalog only
            break;
        case CONSTR_CHECK:
            c->check = written_expr(query, con->location);
            c->check_conname = con->conname;
            c->check_no_inherit = con->is_no_inherit;
            c->check_name = con->conname ? quote_identifier(con->conname) : choose_name(s->relid, def->colname, "check");
            break;
        case CONSTR_UNIQUE:
        case CONSTR_PRIMARY:
            if (con->contype == CONSTR_UNIQUE)
                c->unique = true;
            else
                c->primary_key = true;
            c->unique_conname = con->conname;
            c->index_options = con->including != NIL || con->options != NIL || con->indexspace != nullptr;
            c->nulls_not_distinct = con->nulls_not_distinct;
            c->unique_name = con->conname ? quote_identifier(con->conname)
                                          : choose_name(s->relid, con->contype == CONSTR_UNIQUE ? def->colname : nullptr,
                                                        con->contype == CONSTR_UNIQUE ? "key" : "pkey");
            break;
        case CONSTR_FOREIGN:
            if (!OidIsValid(RangeVarGetRelid(con->pktable, NoLock, true)))
                return false;  // PostgreSQL reports the missing table
            c->references = fk_target_text(con);
            c->fk_conname = con->conname;
            c->fk_name = con->conname ? quote_identifier(con->conname) : choose_name(s->relid, def->colname, "fkey");
            break;
        default:
            break;
        }
    }
    if (c->primary_key && c->check_name == nullptr)
        c->check_name = choose_name(s->relid, def->colname, "not_null");
    if (c->serial || c->identity)
        c->sequence = serial_sequence_name(s->relid, def->colname);
    return true;
}

namespace {

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

}  // namespace

void gather_set_not_null(const CStatement *s, const char *colname, CCommand *c, bool locked) {
    c->kind = sc::ddl::Kind::set_not_null;
    c->column_name = colname;
    c->column = quote_identifier(colname);
    c->constraint = choose_name(s->relid, colname, "not_null");
    HeapTuple tup = SearchSysCacheAttName(s->relid, colname);
    if (!HeapTupleIsValid(tup)) {
        c->kind = sc::ddl::Kind::other;  // PostgreSQL reports the unknown column
        return;
    }
    auto *att = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tup));
    c->attnum = att->attnum;
    c->already_not_null = compat::not_null_validated(s->relid, att->attnum, att->attnotnull);
    ReleaseSysCache(tup);
    if (!c->already_not_null && locked && get_rel_relkind(s->relid) == RELKIND_RELATION)
        c->implied_by_check = not_null_implied(s->relid, c->attnum);
}

namespace {

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
            if (compat::domain_has_constraints(d->resulttype))
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

}  // namespace

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

namespace {

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
    return compat::raw_tree_walk(node, column_refs_resolve, arg);
}

bool columns_exist(Oid relid, List *names) {
    ListCell *lc;
    foreach (lc, names)
        if (get_attnum(relid, strVal(lfirst(lc))) == InvalidAttrNumber)
            return false;
    return true;
}

}  // namespace

void gather_add_constraint(const CStatement *s, AlterTableCmd *cmd, CCommand *c, const char *query, bool locked) {
    if (!IsA(cmd->def, Constraint))
        return;
    auto *con = castNode(Constraint, cmd->def);
    switch (con->contype) {
    case CONSTR_NOTNULL:  // ADD CONSTRAINT name NOT NULL column [NOT VALID]: PostgreSQL 18 and later
        if (list_length(con->keys) != 1)
            return;
        gather_set_not_null(s, strVal(linitial(con->keys)), c, locked);
        if (c->kind != sc::ddl::Kind::set_not_null)
            return;
        c->as_constraint = true;
        if (con->conname)
            c->constraint = quote_identifier(con->conname);
        break;
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
        c->unique_attributes = con->deferrable ? (con->initdeferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE")
                                               : nullptr;
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
    c->not_valid = con->skip_validation;
}

namespace {

}  // namespace

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

namespace {

}  // namespace

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

}  // namespace sc::pg
