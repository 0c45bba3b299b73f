#include <climits>
#include <string>
#include <vector>

#include "pg/guard.hpp"
#include "pg/hook.hpp"
#include "pg/command_facts.hpp"
#include "pg/hook_facts.hpp"
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
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/snapmgr.h"
}

#include "pg/compat.hpp"

namespace sc::pg {

namespace {

const char *str_or_empty(const char *s) { return s ? s : ""; }

}  // namespace

namespace {

sc::ddl::Statement to_core(const CStatement *s) {
    sc::ddl::Statement out;
    out.table = s->table;
    out.table_name = s->table_name;
    out.has_rows = s->has_rows;
    out.table_bytes = s->table_bytes;
    out.index_bytes = s->index_bytes;
    out.not_null_not_valid = compat::not_null_not_valid;
    out.partitioned = s->partitioned;
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
        k.identity_always = c.identity_always;
        k.identity_options = c.identity_options;
        k.generated = c.generated;
        k.domain_constraints = c.domain_constraints;
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
        k.unique_attributes = str_or_empty(c.unique_attributes);
        k.fk_name = str_or_empty(c.fk_name);
        k.check_named = c.check_conname != nullptr;
        k.fk_named = c.fk_conname != nullptr;
        k.unique_named = c.unique_conname != nullptr;
        k.index_options = c.index_options;
        k.sequence = str_or_empty(c.sequence);
        if (c.forecast) {
            k.forecast = c.forecast;
            k.forecast_seconds = c.forecast_seconds;
        }
        k.already_not_null = c.already_not_null;
        k.implied_by_check = c.implied_by_check;
        k.as_constraint = c.as_constraint;
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

}  // namespace

char *pg_strdup_cpp(const std::string &s) {
    const char *p = s.c_str();
    return pg_call([&] { return pstrdup(p); });
}

CVerdict to_c_verdict(const sc::ddl::Verdict &v) {
    CVerdict out{};
    out.action = v.action;
    out.below_min_size = v.below_min_size;
    out.message = pg_strdup_cpp(v.message);
    out.detail = pg_strdup_cpp(v.detail);
    out.hint = pg_strdup_cpp(v.hint);
    return out;
}

int to_c_steps(const std::vector<sc::ddl::PlanStep> &steps, CPlanStep **out) {
    int n = static_cast<int>(steps.size());
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
    return n;
}

CVerdict core_decide(const CStatement *s, sc::ddl::Mode mode) {
    return to_c_verdict(sc::ddl::decide(to_core(s), mode, static_cast<std::int64_t>(guard_min_size_kb) * 1024));
}

int core_plan(const CStatement *s, const char *sql, CPlanStep **out) {
    return to_c_steps(sc::ddl::plan(to_core(s), sql), out);
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

namespace {

// Whether a heap has a row visible to a fresh snapshot: the first one a scan finds ends it (PostgreSQL's
// own check of NOT NULL in ATRewriteTable scans with such a snapshot). Unknown (true) when the
// relation cannot be locked at once.
bool heap_has_rows(Oid relid, bool locked) {
    if (!locked && !ConditionalLockRelationOid(relid, AccessShareLock))
        return true;
    Relation rel = table_open(relid, NoLock);
    Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
    TableScanDesc scan = compat::begin_seqscan(rel, snap);
    TupleTableSlot *slot = table_slot_create(rel, nullptr);
    bool found = table_scan_getnextslot(scan, ForwardScanDirection, slot);
    ExecDropSingleTupleTableSlot(slot);
    table_endscan(scan);
    UnregisterSnapshot(snap);
    table_close(rel, NoLock);
    if (!locked)
        UnlockRelationOid(relid, AccessShareLock);
    return found;
}

}  // namespace

// The table's own heaps (its partitions' and children's with inheritance), never read through a
// foreign table: a foreign partition's rows live elsewhere (reading them is a remote query, or an
// error for a wrapper without a handler), and PostgreSQL checks nothing of them either.
bool table_has_rows(const CStatement *s, bool locked) {
    List *rels = s->inh ? find_all_inheritors(s->relid, NoLock, nullptr) : list_make1_oid(s->relid);
    ListCell *lc;
    foreach (lc, rels) {
        Oid rel = lfirst_oid(lc);
        if (get_rel_relkind(rel) == RELKIND_RELATION && heap_has_rows(rel, locked))
            return true;
    }
    return false;
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
    s->partitioned = kind == RELKIND_PARTITIONED_TABLE;
    s->ncmds = list_length(ats->cmds);
    s->cmds = static_cast<CCommand *>(palloc0(sizeof(CCommand) * (s->ncmds > 0 ? s->ncmds : 1)));
    return s;
}

// The facts of every subcommand. False: leave the statement to PostgreSQL as sent.
bool gather_commands(CStatement *s, AlterTableStmt *ats, const char *query, bool locked, bool strict) {
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
            gather_set_not_null(s, cmd->name, c, locked);
            break;
        case AT_AddConstraint:
            gather_add_constraint(s, cmd, c, query, locked);
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


}  // namespace sc::pg
