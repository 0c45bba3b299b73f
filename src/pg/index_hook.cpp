// CREATE INDEX, DROP INDEX and REINDEX sent without CONCURRENTLY (safe_column.mode).
//
// CREATE INDEX holds SHARE on its table for the whole build, REINDEX holds SHARE on the table and
// ACCESS EXCLUSIVE on the indexes it rebuilds, DROP INDEX takes ACCESS EXCLUSIVE on the table: on a
// large table the first two are refused in guard and stage modes with the CONCURRENTLY statement,
// otherwise every one of these locks is taken queue-safely before PostgreSQL runs the statement. The
// locks are those of DefineIndex, ReindexTable / ReindexIndex and RangeVarCallbackForDropRelation, in
// their order (the table before its indexes). The CONCURRENTLY forms pass as sent.
#include <string>
#include <vector>

#include "pg/guard.hpp"
#include "pg/hook.hpp"
#include "pg/index_hook.hpp"
#include "pg/jobs.hpp"
#include "pg/lock.hpp"
#include "pg/related_locks.hpp"
#include "pg/staged_index.hpp"

extern "C" {
#include "access/relation.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
}

#include "pg/compat.hpp"

namespace sc::pg {

namespace {

bool is_table_kind(Oid relid) {
    char kind = get_rel_relkind(relid);
    return kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE;
}

CIndexStatement *new_statement(sc::ddl::IndexVerb verb, const char *sql, Oid relid, bool inh) {
    auto *s = static_cast<CIndexStatement *>(palloc0(sizeof(CIndexStatement)));
    s->verb = verb;
    s->sql = sql;
    s->relid = relid;
    s->inh = inh;
    const char *relname = get_rel_name(relid);
    s->table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), relname);
    s->table_name = psprintf("\"%s\"", relname);
    s->index = "";
    s->partitioned = get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE;
    s->index_count = 1;
    return s;
}

// ALTER TABLE ... ADD CONSTRAINT ... UNIQUE USING INDEX takes a b-tree index on plain columns in
// default order, without a predicate (index_check_primary_key and ATExecAddIndexConstraint).
bool could_back_a_constraint(IndexStmt *is) {
    if (!is->unique || is->whereClause != nullptr || is->nulls_not_distinct ||
        (is->accessMethod != nullptr && strcmp(is->accessMethod, DEFAULT_INDEX_TYPE) != 0))
        return false;
    ListCell *lc;
    foreach (lc, is->indexParams) {
        auto *e = lfirst_node(IndexElem, lc);
        if (e->name == nullptr || e->expr != nullptr || e->collation != NIL || e->opclass != NIL ||
            e->ordering != SORTBY_DEFAULT || e->nulls_ordering != SORTBY_NULLS_DEFAULT)
            return false;
    }
    return true;
}

CIndexStatement *gather_create(IndexStmt *is, const char *sql, bool missing_ok) {
    Oid relid = RangeVarGetRelid(is->relation, NoLock, missing_ok);
    if (!OidIsValid(relid) || !is_table_kind(relid))
        return nullptr;
    CIndexStatement *s = new_statement(sc::ddl::IndexVerb::create, sql, relid, is->relation->inh);
    s->concurrent = is->concurrent;
    s->unique = is->unique;
    s->constraint_capable = could_back_a_constraint(is);
    s->only_parent = s->partitioned && !is->relation->inh;
    if (is->idxname != nullptr)
        s->index = quote_identifier(is->idxname);
    return s;
}

// DROP INDEX a, b: the first index's table, and the other tables in `also`. NULL when an index is
// missing (PostgreSQL reports it, or skips it with IF EXISTS) or is not on a table.
CIndexStatement *gather_drop(DropStmt *ds, const char *sql, bool missing_ok) {
    CIndexStatement *s = nullptr;
    ListCell *lc;
    foreach (lc, ds->objects) {
        RangeVar *rv = makeRangeVarFromNameList(static_cast<List *>(lfirst(lc)));
        Oid index = RangeVarGetRelid(rv, NoLock, missing_ok || ds->missing_ok);
        if (!OidIsValid(index))
            continue;
        Oid heap = IndexGetRelation(index, true);
        if (!OidIsValid(heap) || !is_table_kind(heap))
            return nullptr;
        if (s == nullptr) {
            s = new_statement(sc::ddl::IndexVerb::drop, sql, heap, true);
            s->index = quote_identifier(get_rel_name(index));
        } else if (heap != s->relid) {
            s->also = list_append_unique_oid(s->also, heap);
        }
    }
    if (s != nullptr)
        s->concurrent = ds->concurrent;
    return s;
}

bool reindex_is_concurrent(ReindexStmt *rs) {
    ListCell *lc;
    foreach (lc, rs->params) {
        auto *opt = lfirst_node(DefElem, lc);
        if (strcmp(opt->defname, "concurrently") == 0)
            return defGetBoolean(opt);
    }
    return false;
}

CIndexStatement *gather_reindex(ReindexStmt *rs, const char *sql, bool missing_ok) {
    if (rs->kind != REINDEX_OBJECT_INDEX && rs->kind != REINDEX_OBJECT_TABLE)
        return nullptr;
    Oid rel = RangeVarGetRelid(rs->relation, NoLock, missing_ok);
    if (!OidIsValid(rel))
        return nullptr;
    bool whole_table = rs->kind == REINDEX_OBJECT_TABLE;
    Oid heap = whole_table ? rel : IndexGetRelation(rel, true);
    if (!OidIsValid(heap) || !is_table_kind(heap))
        return nullptr;
    CIndexStatement *s = new_statement(sc::ddl::IndexVerb::reindex, sql, heap, true);
    s->whole_table = whole_table;
    s->concurrent = reindex_is_concurrent(rs);
    if (whole_table) {
        Relation r = RelationIdGetRelation(heap);
        if (r != nullptr) {
            s->also = RelationGetIndexList(r);
            RelationClose(r);
        }
        s->index_count = list_length(s->also);
    } else {
        s->index = quote_identifier(get_rel_name(rel));
        s->also = list_make1_oid(rel);
    }
    return s;
}

sc::ddl::IndexStatement to_core(const CIndexStatement *s) {
    sc::ddl::IndexStatement out;
    out.verb = s->verb;
    out.sql = s->sql;
    out.table = s->table;
    out.table_name = s->table_name;
    out.index = s->index;
    out.concurrent = s->concurrent;
    out.unique = s->unique;
    out.constraint_capable = s->constraint_capable;
    out.partitioned = s->partitioned;
    out.only_parent = s->only_parent;
    out.whole_table = s->whole_table;
    out.index_count = s->index_count;
    out.table_bytes = s->table_bytes;
    out.index_bytes = s->index_bytes;
    return out;
}

LOCKMODE table_lockmode(const CIndexStatement *s) {
    return s->verb == sc::ddl::IndexVerb::drop ? AccessExclusiveLock : ShareLock;
}

// The statement's locks, queue-safely, in PostgreSQL's order. A REINDEX of a partitioned table
// works through its partitions in transactions of its own: nothing to take here.
void lock_for(const CIndexStatement *s, sc::ddl::Mode mode) {
    if (s->verb == sc::ddl::IndexVerb::reindex && s->partitioned)
        return;
    const char *what = psprintf("run %s (safe_column.mode = %s)",
                                s->verb == sc::ddl::IndexVerb::create   ? "CREATE INDEX"
                                : s->verb == sc::ddl::IndexVerb::drop ? "DROP INDEX"
                                                                      : "REINDEX",
                                mode_name(mode));
    bool inheritors = s->partitioned && s->inh && !s->only_parent;
    LOCKMODE also_mode = s->verb == sc::ddl::IndexVerb::drop ? AccessExclusiveLock
                         : s->verb == sc::ddl::IndexVerb::reindex ? AccessExclusiveLock
                                                                  : NoLock;
    (void)lock_queue_safe(s->relid, table_lockmode(s), inheritors, what, s->also, also_mode);
}

// Whether the statement is one this role may run on a table other sessions use: otherwise PostgreSQL
// refuses it (not the owner) or nobody waits on it (a temporary table, one created in this transaction).
bool worth_guarding(const CIndexStatement *s) {
    bool allowed = s->verb == sc::ddl::IndexVerb::reindex ? compat::may_reindex(s->relid, GetUserId())
                                                           : compat::owns_relation(s->relid, GetUserId());
    if (!allowed || invisible_to_others(s->relid))
        return false;
    ListCell *lc;
    if (s->verb == sc::ddl::IndexVerb::drop)
        foreach (lc, s->also)
            if (!compat::owns_relation(lfirst_oid(lc), GetUserId()))
                return false;
    return true;
}

}  // namespace

bool is_index_statement(Node *stmt) {
    return IsA(stmt, IndexStmt) || IsA(stmt, ReindexStmt) ||
           (IsA(stmt, DropStmt) && castNode(DropStmt, stmt)->removeType == OBJECT_INDEX);
}

CIndexStatement *gather_index_statement(Node *stmt, const char *sql, bool missing_ok) {
    if (IsA(stmt, IndexStmt))
        return gather_create(castNode(IndexStmt, stmt), sql, missing_ok);
    if (IsA(stmt, DropStmt) && castNode(DropStmt, stmt)->removeType == OBJECT_INDEX)
        return gather_drop(castNode(DropStmt, stmt), sql, missing_ok);
    if (IsA(stmt, ReindexStmt))
        return gather_reindex(castNode(ReindexStmt, stmt), sql, missing_ok);
    return nullptr;
}

void measure_index_statement(CIndexStatement *s) {
    CStatement t{};
    t.relid = s->relid;
    t.inh = s->inh && !s->only_parent;
    measure(&t, false);
    s->table_bytes = t.table_bytes;
    s->index_bytes = t.index_bytes;
}

CVerdict core_decide_index(const CIndexStatement *s, sc::ddl::Mode mode) {
    return to_c_verdict(
        sc::ddl::decide_index(to_core(s), mode, static_cast<std::int64_t>(guard_min_size_kb) * 1024));
}

int core_plan_index(const CIndexStatement *s, CPlanStep **out) {
    return to_c_steps(sc::ddl::plan_index(to_core(s)), out);
}

bool guard_index_statement(Node *stmt, const char *sql, sc::ddl::Mode mode) {
    CIndexStatement *s = gather_index_statement(stmt, sql, true);
    if (s == nullptr || s->concurrent || !worth_guarding(s))
        return false;
    measure_index_statement(s);
    CVerdict v = core_decide_index(s, mode);
    switch (v.action) {
    case sc::ddl::Action::run:
        return false;
    case sc::ddl::Action::stage:
        stage_create_index(s, castNode(IndexStmt, stmt));
        return true;
    case sc::ddl::Action::run_guarded:
        lock_for(s, mode);
        return false;
    case sc::ddl::Action::warn:
        ereport(WARNING, (errmsg_internal("%s", v.message), errdetail_internal("%s", v.detail),
                          v.hint[0] ? errhint("%s", v.hint) : 0));
        return false;
    case sc::ddl::Action::refuse:
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg_internal("%s", v.message),
                        errdetail_internal("%s", v.detail), errhint("%s", v.hint)));
    }
    return false;
}

}  // namespace sc::pg
