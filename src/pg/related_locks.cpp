#include "pg/guard.hpp"
#include "pg/hook.hpp"
#include "pg/hook_facts.hpp"
#include "pg/lock.hpp"
#include "pg/related_locks.hpp"

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

namespace {

// The relations of rels (a List of OIDs) that other sessions can see, without duplicates.
List *visible_to_others(List *rels) {
    List *visible = NIL;
    ListCell *lc;
    foreach (lc, rels)
        if (!invisible_to_others(lfirst_oid(lc)))
            visible = list_append_unique_oid(visible, lfirst_oid(lc));
    return visible;
}


// ", which also locks "b", "c"" for the relations of rels after the first; "" when there are none.
char *also_locks_text(List *rels) {
    return list_length(rels) > 1 ? psprintf(", which also locks %s", quoted_rel_names(rels, 1)) : pstrdup("");
}

}  // namespace

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
        if (!OidIsValid(parent) || !compat::owns_relation(parent, GetUserId()))
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
    if (!OidIsValid(part) || !compat::owns_relation(part, GetUserId()))
        return;
    List *also = list_make1_oid(part);  // the partition named in the message, then the default partition
    Oid def = get_default_partition_oid(parent);
    if (OidIsValid(def))
        also = list_append_unique_oid(also, def);
    char *what = psprintf("%s \"%s\" %s it%s (safe_column.mode = %s)", attach ? "attach" : "detach",
                          get_rel_name(part), attach ? "to" : "from", also_locks_text(also), mode_name(mode));
    (void)lock_queue_safe(parent, AlterTableGetLockLevel(ats->cmds), false, what, also, AccessExclusiveLock);
}

}  // namespace sc::pg
