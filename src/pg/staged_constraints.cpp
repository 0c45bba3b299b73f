#include <string>

#include "core/sql_text.hpp"
#include "pg/add_column.hpp"
#include "pg/guard.hpp"
#include "pg/jobs.hpp"
#include "pg/lock.hpp"
#include "pg/related_locks.hpp"
#include "pg/staged_constraints.hpp"
#include "pg/worker_session.hpp"

extern "C" {
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
}

#include "pg/compat.hpp"

namespace sc::pg {

namespace {

char *core_constraint_sql(char contype, const char *table, const char *name, const char *column, const char *body,
                          bool no_inherit) {
    return cpp_entry("safe_add_column", [&] {
        std::string text = contype == 'c' ? sc::sql::check_not_valid(table, name, body, no_inherit)
                                          : sc::sql::foreign_key_not_valid(table, name, column, body);
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

char *core_drop_sql(const char *table, const char *name) {
    return cpp_entry("safe_add_column", [&] {
        std::string text = sc::sql::drop_constraint(table, name);
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

// The statement must be exactly one ALTER TABLE adding one constraint of the kind meant: an expression
// or a clause that closes the parenthesis and goes on (another command, another statement) is refused.
AlterTableStmt *verified_constraint_sql(const char *sql, char contype, const char *argname) {
    List *stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
    AlterTableStmt *ats = nullptr;
    if (list_length(stmts) == 1 && IsA(linitial_node(RawStmt, stmts)->stmt, AlterTableStmt))
        ats = castNode(AlterTableStmt, linitial_node(RawStmt, stmts)->stmt);
    bool ok = ats != nullptr && list_length(ats->cmds) == 1;
    if (ok) {
        auto *cmd = linitial_node(AlterTableCmd, ats->cmds);
        ok = cmd->subtype == AT_AddConstraint && cmd->def != nullptr && IsA(cmd->def, Constraint) &&
             castNode(Constraint, cmd->def)->contype == (contype == 'c' ? CONSTR_CHECK : CONSTR_FOREIGN);
    }
    if (!ok)
        ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR),
                        errmsg("%s must be exactly one %s", argname,
                               contype == 'c' ? "expression" : "referenced table with its options"),
                        errdetail("With it, the statement would be: %s", sql)));
    return ats;
}

// PostgreSQL's own text of the constraint just added, every name qualified, and what it references.
void read_definition(Oid relid, StagedConstraint *sc) {
    int nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                            0, false);
    Oid types[2] = {OIDOID, NAMEOID};
    Datum values[2] = {ObjectIdGetDatum(relid), DirectFunctionCall1(namein, CStringGetDatum(sc->name))};
    spi_exec_args("SELECT pg_catalog.pg_get_constraintdef(oid), confrelid FROM pg_catalog.pg_constraint"
                  " WHERE conrelid = $1 AND conname = $2",
                  2, types, values, SPI_OK_SELECT);
    if (SPI_processed != 1)
        elog(ERROR, "constraint \"%s\" was not added", sc->name);
    sc->definition = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    bool isnull;
    sc->ref_relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    AtEOXact_GUC(true, nest);
}

// The name as written after CONSTRAINT, else the one PostgreSQL would choose (unquoted).
char *staged_name(Oid relid, const char *colname, char contype, const char *name) {
    return name ? pstrdup(name)
                : ChooseConstraintName(get_rel_name(relid), colname, contype == 'c' ? "check" : "fkey",
                                       get_rel_namespace(relid), NIL);
}

StagedConstraint *try_one(Oid relid, const char *table, const char *colname, char contype, const char *body,
                          const char *name, bool no_inherit) {
    auto *sc = static_cast<StagedConstraint *>(palloc0(sizeof(StagedConstraint)));
    sc->contype = contype;
    sc->requested = pstrdup(body);
    sc->name = staged_name(relid, colname, contype, name);
    const char *argname = contype == 'c' ? "check_expr" : "references_clause";
    char *sql = core_constraint_sql(contype, table, quote_identifier(sc->name), quote_identifier(colname), body,
                                    no_inherit);
    AlterTableStmt *ats = verified_constraint_sql(sql, contype, argname);
    if (contype == 'f') {
        List *refs = referenced_tables(ats, relid);
        ListCell *lc;
        foreach (lc, refs)
            (void)lock_queue_safe(lfirst_oid(lc), ShareRowExclusiveLock, false,
                                  psprintf("add foreign key \"%s\"", sc->name));
    }
    run_extension_ddl(sql);
    read_definition(relid, sc);
    run_extension_ddl(core_drop_sql(table, quote_identifier(sc->name)));
    return sc;
}

}  // namespace

List *inline_referenced_tables(Oid relid, const char *table, const char *colname, const InlineConstraints *ic) {
    if (ic == nullptr || ic->references_clause == nullptr)
        return NIL;
    const char *name = quote_identifier(staged_name(relid, colname, 'f', ic->fk_name));
    char *sql = core_constraint_sql('f', table, name, quote_identifier(colname), ic->references_clause, false);
    return referenced_tables(verified_constraint_sql(sql, 'f', "references_clause"), relid);
}

namespace {

char *core_index_sql(const char *index, const char *table, const char *column, bool nulls_not_distinct) {
    return cpp_entry("safe_add_column", [&] {
        std::string text = sc::sql::create_unique_index_concurrently(index, table, column, nulls_not_distinct);
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

char *core_index_constraint(bool primary_key, const char *index, bool deferrable, bool initdeferred) {
    return cpp_entry("safe_add_column", [&] {
        std::string text = sc::sql::index_constraint_definition(primary_key, index, deferrable, initdeferred);
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

// The table's primary key, if it has one.
bool has_primary_key(Oid relid) {
    Oid types[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(relid)};
    spi_exec_args("SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = $1 AND contype = 'p'", 1, types, values,
                  SPI_OK_SELECT);
    return SPI_processed > 0;
}

// The column's UNIQUE / PRIMARY KEY: its name (as written, else the one PostgreSQL would choose for the
// constraint and its index), the CREATE UNIQUE INDEX CONCURRENTLY the worker runs once the column is
// filled, and the ADD CONSTRAINT ... USING INDEX after it. PostgreSQL's own errors for a second primary
// key and a name in use, before anything changes.
StagedConstraint *stage_index(Oid relid, const char *table, const char *colname, const InlineConstraints *ic) {
    const char *relname = get_rel_name(relid);
    Oid nsp = get_rel_namespace(relid);
    if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot stage the %s of column \"%s\" of partitioned table \"%s\"",
                               ic->primary_key ? "PRIMARY KEY" : "UNIQUE constraint", colname, relname),
                        errdetail("A partitioned table's index cannot be built concurrently."),
                        errhint("Build the index on each partition with CREATE UNIQUE INDEX CONCURRENTLY, then "
                                "CREATE UNIQUE INDEX ON ONLY the partitioned table and ALTER INDEX ... ATTACH "
                                "PARTITION each one.")));
    if (ic->primary_key && has_primary_key(relid))
        ereport(ERROR, (errcode(ERRCODE_INVALID_TABLE_DEFINITION),
                        errmsg("multiple primary keys for table \"%s\" are not allowed", relname)));
    auto *sc = static_cast<StagedConstraint *>(palloc0(sizeof(StagedConstraint)));
    sc->contype = ic->primary_key ? 'p' : 'u';
    sc->requested = pstrdup(ic->primary_key ? "PRIMARY KEY" : "UNIQUE");
    if (ic->index_name != nullptr) {
        if (OidIsValid(get_relname_relid(ic->index_name, nsp)))
            ereport(ERROR, (errcode(ERRCODE_DUPLICATE_TABLE),
                            errmsg("relation \"%s\" already exists", ic->index_name)));
        sc->name = pstrdup(ic->index_name);
    } else {
        sc->name = ChooseRelationName(relname, ic->primary_key ? nullptr : colname, ic->primary_key ? "pkey" : "key",
                                      nsp, true);
    }
    const char *index = quote_identifier(sc->name);
    sc->index_sql = core_index_sql(index, table, quote_identifier(colname), ic->nulls_not_distinct);
    sc->definition = core_index_constraint(ic->primary_key, index, ic->deferrable, ic->initdeferred);
    return sc;
}

}  // namespace

List *try_staged_constraints(Oid relid, const char *table, const char *colname, const InlineConstraints *ic) {
    List *out = NIL;
    if (ic->check_expr != nullptr)
        out = lappend(out, try_one(relid, table, colname, 'c', ic->check_expr, ic->check_name, ic->check_no_inherit));
    if (ic->references_clause != nullptr)
        out = lappend(out, try_one(relid, table, colname, 'f', ic->references_clause, ic->fk_name, false));
    if (ic->unique || ic->primary_key)
        out = lappend(out, stage_index(relid, table, colname, ic));
    if (ic->identity) {
        // The staging sequence (created by the caller) is what set_identity moves the identity's on from.
        auto *id = static_cast<StagedConstraint *>(palloc0(sizeof(StagedConstraint)));
        id->contype = 'i';
        id->ref_relid =
            RangeVarGetRelid(makeRangeVarFromNameList(compat::qualified_name_list(ic->identity_sequence)), NoLock, false);
        id->name = get_rel_name(id->ref_relid);
        id->definition = pstrdup(ic->identity_always ? "GENERATED ALWAYS AS IDENTITY" : "GENERATED BY DEFAULT AS IDENTITY");
        id->requested = id->definition;
        out = lappend(out, id);
    }
    return out;
}

bool is_index_constraint(const StagedConstraint *sc) {
    return sc->contype == 'u' || sc->contype == 'p' || sc->contype == 'x';
}

bool has_staged_kind(List *staged, const char *contypes) {
    ListCell *lc;
    foreach (lc, staged)
        if (strchr(contypes, static_cast<StagedConstraint *>(lfirst(lc))->contype) != nullptr)
            return true;
    return false;
}

// Only the extension's own table: a table of that name that someone put into the extension's schema of
// a 0.2 database must never receive rows written as the extension's owner.
bool staged_constraints_supported() {
    Oid ext = get_extension_oid("safe_column", true);
    if (!OidIsValid(ext))
        return false;
    spi_exec_args("SELECT e.extnamespace FROM pg_catalog.pg_extension e"
                  " WHERE e.extname OPERATOR(pg_catalog.=) 'safe_column'::pg_catalog.name",
                  0, nullptr, nullptr, SPI_OK_SELECT);
    if (SPI_processed != 1)
        return false;
    bool isnull;
    Oid nsp = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    Oid rel = get_relname_relid("safe_column_job_constraint", nsp);
    return OidIsValid(rel) && getExtensionOfObject(RelationRelationId, rel) == ext;
}

// Whether the table of staged constraints has 0.4's index_sql. SPI connected.
bool staged_index_supported() {
    if (!staged_constraints_supported())
        return false;
    spi_exec_args(psprintf("SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = %s::pg_catalog.regclass"
                           " AND attname = 'index_sql' AND NOT attisdropped",
                           quote_literal_cstr(extension_table("safe_column_job_constraint"))),
                  0, nullptr, nullptr, SPI_OK_SELECT);
    return SPI_processed == 1;
}

void record_staged_constraints(int64 job_id, List *staged) {
    if (staged == NIL)
        return;
    if (!staged_constraints_supported())
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("staging CHECK and REFERENCES constraints needs safe_column 0.3"),
                        errhint("Run ALTER EXTENSION safe_column UPDATE.")));
    bool with_index = has_staged_kind(staged, "upix");
    if (with_index && !staged_index_supported())
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("staging UNIQUE, PRIMARY KEY and identity columns needs safe_column 0.4"),
                        errhint("Run ALTER EXTENSION safe_column UPDATE.")));
    char *sql = psprintf("INSERT INTO %s (job_id, constraint_name, contype, definition, ref_relid, requested%s)"
                         " VALUES ($1, $2, $3, $4, $5, $6%s)",
                         extension_table("safe_column_job_constraint"), with_index ? ", index_sql" : "",
                         with_index ? ", $7" : "");
    ListCell *lc;
    foreach (lc, staged) {
        auto *sc = static_cast<StagedConstraint *>(lfirst(lc));
        Oid types[7] = {INT8OID, NAMEOID, CHAROID, TEXTOID, OIDOID, TEXTOID, TEXTOID};
        Datum values[7] = {Int64GetDatum(job_id), DirectFunctionCall1(namein, CStringGetDatum(sc->name)),
                           CharGetDatum(sc->contype), CStringGetTextDatum(sc->definition),
                           ObjectIdGetDatum(sc->ref_relid), CStringGetTextDatum(sc->requested),
                           sc->index_sql ? CStringGetTextDatum(sc->index_sql) : (Datum)0};
        char nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', sc->index_sql ? ' ' : 'n'};
        if (SPI_execute_with_args(sql, with_index ? 7 : 6, types, values, nulls, false, 0) != SPI_OK_INSERT)
            elog(ERROR, "SPI_execute_with_args failed: %s", sql);
    }
}

List *load_staged_constraints(int64 job_id) {
    if (!staged_constraints_supported())
        return NIL;
    bool with_index = staged_index_supported();
    char *sql = psprintf("SELECT constraint_name, contype, definition, ref_relid, requested, %s FROM %s"
                         " WHERE job_id = $1 ORDER BY contype, constraint_name",
                         with_index ? "index_sql" : "NULL::pg_catalog.text",
                         extension_table("safe_column_job_constraint"));
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(job_id)};
    spi_exec_args(sql, 1, types, values, SPI_OK_SELECT);
    List *out = NIL;
    for (uint64 i = 0; i < SPI_processed; i++) {
        HeapTuple tup = SPI_tuptable->vals[i];
        TupleDesc desc = SPI_tuptable->tupdesc;
        bool isnull;
        auto *sc = static_cast<StagedConstraint *>(palloc0(sizeof(StagedConstraint)));
        sc->name = SPI_getvalue(tup, desc, 1);
        sc->contype = DatumGetChar(SPI_getbinval(tup, desc, 2, &isnull));
        sc->definition = SPI_getvalue(tup, desc, 3);
        sc->ref_relid = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
        sc->requested = SPI_getvalue(tup, desc, 5);
        sc->index_sql = SPI_getvalue(tup, desc, 6);
        out = lappend(out, sc);
    }
    return out;
}

StagedConstraint *staged_of_kind(int64 job_id, const char *contypes) {
    ListCell *lc;
    foreach (lc, load_staged_constraints(job_id))
        if (strchr(contypes, static_cast<StagedConstraint *>(lfirst(lc))->contype) != nullptr)
            return static_cast<StagedConstraint *>(lfirst(lc));
    return nullptr;
}

char *check_violating_row(Oid relid, const char *conname) {
    // pg_get_expr qualifies what the search_path does not show: the probe runs under the same one.
    int nest = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                            0, false);
    Oid types[2] = {OIDOID, NAMEOID};
    Datum values[2] = {ObjectIdGetDatum(relid), DirectFunctionCall1(namein, CStringGetDatum(conname))};
    spi_exec_args("SELECT pg_catalog.pg_get_expr(conbin, conrelid), connoinherit FROM pg_catalog.pg_constraint"
                  " WHERE conrelid = $1 AND conname = $2 AND contype = 'c'",
                  2, types, values, SPI_OK_SELECT);
    char *expr = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : nullptr;
    if (expr == nullptr) {
        AtEOXact_GUC(true, nest);
        return nullptr;
    }
    bool isnull;
    bool no_inherit = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    // The table's own rows first (a child's ctid would be ambiguous); its children only when they are
    // checked too and the table has no such row.
    const char *table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
    spi_exec_args(psprintf("SELECT 'row ' || ctid || ' of ' || %s FROM ONLY %s WHERE NOT (%s) LIMIT 1",
                           quote_literal_cstr(get_rel_name(relid)), table, expr),
                  0, nullptr, nullptr, SPI_OK_SELECT);
    if (SPI_processed == 0 && !no_inherit)
        spi_exec_args(psprintf("SELECT 'row ' || ctid || ' of ' || tableoid::pg_catalog.regclass FROM %s"
                               " WHERE NOT (%s) LIMIT 1",
                               table, expr),
                      0, nullptr, nullptr, SPI_OK_SELECT);
    char *row = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : nullptr;
    AtEOXact_GUC(true, nest);
    return row;
}

namespace {

// One kind of constraint: asked for (text: NULL when not) against what the job staged of it.
void compare_staged(StringInfo diff, const StagedConstraint *had, const char *text, const char *argname) {
    if (had == nullptr && text == nullptr)
        return;
    if (had == nullptr)
        appendStringInfo(diff, " It was added without %s.", argname);
    else if (text == nullptr)
        appendStringInfo(diff, " It was added with %s.", argname);
    else if (strcmp(had->requested, text) != 0)
        appendStringInfo(diff, " It was added with another %s.", argname);
}

}  // namespace

char *staged_constraints_differ(int64 job_id, const InlineConstraints *ic) {
    const StagedConstraint *check = nullptr, *fk = nullptr, *index = nullptr;
    ListCell *lc;
    foreach (lc, load_staged_constraints(job_id)) {
        auto *sc = static_cast<StagedConstraint *>(lfirst(lc));
        if (sc->contype == 'c')
            check = sc;
        else if (sc->contype == 'f')
            fk = sc;
        else if (is_index_constraint(sc))
            index = sc;
    }
    StringInfoData diff;
    initStringInfo(&diff);
    compare_staged(&diff, check, ic ? ic->check_expr : nullptr, "check_expr");
    compare_staged(&diff, fk, ic ? ic->references_clause : nullptr, "references_clause");
    const char *asked = ic == nullptr ? nullptr : ic->primary_key ? "PRIMARY KEY" : ic->unique ? "UNIQUE" : nullptr;
    if (index == nullptr && asked != nullptr)
        appendStringInfo(&diff, " It was added without %s.", asked);
    else if (index != nullptr && (asked == nullptr || strcmp(index->requested, asked) != 0))
        appendStringInfo(&diff, " It was added with %s.", index->requested);
    return diff.data;
}

bool constraint_state(Oid relid, const char *name, bool *validated, bool *native) {
    Oid types[2] = {OIDOID, NAMEOID};
    Datum values[2] = {ObjectIdGetDatum(relid), DirectFunctionCall1(namein, CStringGetDatum(name))};
    spi_exec_args("SELECT convalidated, contype = 'n' FROM pg_catalog.pg_constraint WHERE conrelid = $1 AND conname = $2",
                  2, types, values, SPI_OK_SELECT);
    if (SPI_processed == 0)
        return false;
    bool isnull;
    *validated = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    if (native != nullptr)
        *native = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    return true;
}

}  // namespace sc::pg
