#include <cstring>

#include "pg/add_column.hpp"
#include "pg/db_lifecycle.hpp"
#include "pg/lock.hpp"
#include "pg/shmem.hpp"

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

// DROP DATABASE and ALTER DATABASE RENAME need the database to themselves: a safe_column worker
// connected to it would make them fail after five seconds ("being accessed by other users"), and a
// worker restarted after the drop would fail to connect every few seconds. So the database is held
// (no worker connects to it meanwhile) and its workers are asked to exit; at the end of the
// transaction a dropped database stays held, otherwise it is released and gets a worker again.

namespace {

Oid held_db = InvalidOid;
bool held_for_drop = false;

void terminate_db_workers(Oid dboid) {
    int n = pgstat_fetch_stat_numbackends();
    for (int i = 1; i <= n; i++) {
        LocalPgBackendStatus *local = compat::local_backend_entry(i);
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

}  // namespace

void hold_database_for(const char *dbname, bool drop) {
    if (dbname == nullptr || !shmem_ready())
        return;
    Oid dboid = get_database_oid(dbname, true);
    // Only for the one who may drop or rename it: nobody else can make the workers exit.
    if (!OidIsValid(dboid) || dboid == MyDatabaseId || !compat::owns_database(dboid, GetUserId()))
        return;
    hold_database(dboid);
    held_db = dboid;
    held_for_drop = drop;
    terminate_db_workers(dboid);
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
                           "  JOIN pg_catalog.pg_constraint c ON c.conrelid OPERATOR(pg_catalog.=) j.relid AND c.conname = j.constraint_name"
                           " WHERE j.state NOT IN ('complete', 'cancelled')"
                           "   AND NOT (c.contype = 'n' AND c.convalidated)",  // 18: the column's own NOT NULL
                           store);
    if (SPI_execute(query, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute failed: %s", query);
    int n = static_cast<int>(SPI_processed);
    SPITupleTable *tuptable = SPI_tuptable;
    for (int i = 0; i < n; i++) {
        bool isnull;
        Oid relid = DatumGetObjectId(SPI_getbinval(tuptable->vals[i], tuptable->tupdesc, 1, &isnull));
        char *conname = SPI_getvalue(tuptable->vals[i], tuptable->tupdesc, 2);
        if (!compat::owns_relation(relid, GetUserId())) {
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

namespace {

void lifecycle_xact_callback(XactEvent event, void *) {
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

void reset_on_subabort(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB)
        in_safe_column_ddl = false;
}

}  // namespace

void register_lifecycle_callbacks() {
    RegisterXactCallback(lifecycle_xact_callback, nullptr);
    RegisterSubXactCallback(reset_on_subabort, nullptr);
}

}  // namespace sc::pg
