// The other tables an ALTER TABLE or CREATE TABLE locks (tables its new foreign keys reference, the
// parents of a new partition or child, the partitions and default partition an ATTACH / DETACH
// touches), taken queue-safely under guard and stage before PostgreSQL runs the statement.
#pragma once

#include "core/ddl_guard.hpp"
#include "pg/pg_includes.hpp"

extern "C" {
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
}

namespace sc::pg {

// A table no other session can see (temporary, or created in this transaction).
bool invisible_to_others(Oid relid);
bool attaches_or_detaches(AlterTableStmt *ats);
// The tables the statement's new foreign keys reference, other than relid itself.
List *referenced_tables(AlterTableStmt *ats, Oid relid);
char *quoted_rel_names(List *rels, int from);
void lock_referenced_of_new_table(AlterTableStmt *ats, Oid relid, sc::ddl::Mode mode);
void lock_parents_of_new_table(CreateStmt *cs, sc::ddl::Mode mode);
void lock_partition_change(AlterTableStmt *ats, Oid parent, sc::ddl::Mode mode);

}  // namespace sc::pg
