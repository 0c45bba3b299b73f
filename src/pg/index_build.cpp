#include <string>

#include "core/sql_text.hpp"
#include "pg/add_column.hpp"
#include "pg/guard.hpp"
#include "pg/index_build.hpp"
#include "pg/staged_constraints.hpp"
#include "pg/worker_session.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_index.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "pgstat.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace sc::pg {

namespace {

enum class IndexState { none, invalid, valid, attached, other };

// What the relation `name` in the table's schema is: none, the table's index (not valid yet, valid, or
// attached as a constraint), or something else. In a transaction; *qualified in cxt.
IndexState staged_index_state(Oid relid, const char *name, MemoryContext cxt, char **qualified) {
    Oid nsp = get_rel_namespace(relid);
    *qualified = MemoryContextStrdup(cxt, quote_qualified_identifier(get_namespace_name(nsp), name));
    Oid idx = get_relname_relid(name, nsp);
    if (!OidIsValid(idx))
        return IndexState::none;
    HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(idx));
    if (!HeapTupleIsValid(tup))
        return IndexState::other;
    auto *form = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup));
    bool ours = form->indrelid == relid;
    bool valid = form->indisvalid;
    ReleaseSysCache(tup);
    if (!ours)
        return IndexState::other;
    if (OidIsValid(get_index_constraint(idx)))
        return IndexState::attached;
    return valid ? IndexState::valid : IndexState::invalid;
}

char *core_drop_index_sql(const char *qualified, MemoryContext cxt) {
    return cpp_entry("safe_column worker", [&] {
        std::string text = sc::sql::drop_index_concurrently(qualified);
        return pg_call([&] { return MemoryContextStrdup(cxt, text.c_str()); });
    });
}

void set_search_path(const char *value) {
    (void)set_config_option("search_path", value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
}

// One statement, as a client's top-level statement runs (see index_build.hpp), as role, under
// search_path (NULL: the worker's own). No transaction open before or after.
void run_top_level(const char *sql, Oid role, const char *search_path = nullptr) {
    MemoryContext caller = CurrentMemoryContext;
    char *saved_path = search_path ? pstrdup(GetConfigOption("search_path", false, false)) : nullptr;
    MemoryContext cxt = AllocSetContextCreate(caller, "safe_column top-level statement", ALLOCSET_SMALL_SIZES);
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    (void)MemoryContextSwitchTo(cxt);
    pgstat_report_activity(STATE_RUNNING, sql);
    PG_TRY();
    {
        if (search_path != nullptr)
            set_search_path(search_path);
        RawStmt *raw = linitial_node(RawStmt, pg_parse_query(sql));
        PlannedStmt *ps = makeNode(PlannedStmt);
        ps->commandType = CMD_UTILITY;
        ps->canSetTag = false;
        ps->utilityStmt = raw->stmt;
        ps->stmt_location = raw->stmt_location;
        ps->stmt_len = raw->stmt_len;
        PushActiveSnapshot(GetTransactionSnapshot());
        SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
        in_safe_column_ddl = true;
        ProcessUtility(ps, sql, false, PROCESS_UTILITY_TOPLEVEL, nullptr, nullptr, None_Receiver, nullptr);
        in_safe_column_ddl = false;
        SetUserIdAndSecContext(save_user, save_sec);
        if (ActiveSnapshotSet())
            PopActiveSnapshot();
        if (saved_path != nullptr)
            set_search_path(saved_path);
        CommitTransactionCommand();
    }
    PG_CATCH();
    {
        // The statement's own transactions began as role: an abort would put that one back. A search
        // path set in a transaction the statement committed would stay.
        SetUserIdAndSecContext(save_user, save_sec);
        in_safe_column_ddl = false;
        (void)MemoryContextSwitchTo(caller);
        if (saved_path != nullptr)
            set_search_path(saved_path);
        PG_RE_THROW();
    }
    PG_END_TRY();
    (void)MemoryContextSwitchTo(caller);
    MemoryContextDelete(cxt);
    pgstat_report_activity(STATE_IDLE, nullptr);
}

}  // namespace

char *unattached_staged_index(Oid relid, const char *name) {
    char *qualified = nullptr;
    IndexState state = staged_index_state(relid, name, CurrentMemoryContext, &qualified);
    return state == IndexState::invalid || state == IndexState::valid ? qualified : nullptr;
}

void build_staged_index(const Job *job, const StagedConstraint *ix, const char *search_path) {
    MemoryContext caller = CurrentMemoryContext;
    char *qualified = nullptr;
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    IndexState state = staged_index_state(job->relid, ix->name, caller, &qualified);
    Oid role = acting_role(job->creator, job->relid);
    char *drop = state == IndexState::invalid ? core_drop_index_sql(qualified, caller) : nullptr;
    CommitTransactionCommand();
    (void)MemoryContextSwitchTo(caller);
    if (drop != nullptr)
        run_top_level(drop, role);
    if (state != IndexState::valid && state != IndexState::attached)
        run_top_level(ix->index_sql, role, search_path);
}

char *index_job_search_path(const Job *job, MemoryContext cxt) {
    Oid owner = acting_role(job->creator, job->relid);
    if (!has_privs_of_role(job->creator, owner))
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("the role that created the job no longer has the rights of the table's owner"),
                        errdetail("The index is built as the table's owner."),
                        errhint("Have the table's owner send the CREATE INDEX again.")));
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(job->id)};
    spi_exec_args(psprintf("SELECT search_path FROM %s WHERE job_id = $1", store_table()), 1, types, values,
                  SPI_OK_SELECT);
    char *path = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : nullptr;
    return MemoryContextStrdup(cxt, path ? path : "pg_catalog");
}

void drop_unattached_staged_index(const Job *job) {
    MemoryContext caller = CurrentMemoryContext;
    PG_TRY();
    {
        begin_txn("safe_column: removing the index of a job that ended without it");
        char *drop = nullptr;
        Oid role = InvalidOid;
        Job now{};
        bool ended = load_job(job->id, &now) && (strcmp(now.state, "failed") == 0 || strcmp(now.state, "cancelled") == 0);
        StagedConstraint *ix = ended ? staged_index_of(job->id) : nullptr;
        if (ix != nullptr && SearchSysCacheExists1(RELOID, ObjectIdGetDatum(job->relid))) {
            char *qualified = nullptr;
            IndexState state = staged_index_state(job->relid, ix->name, caller, &qualified);
            if (state == IndexState::invalid || state == IndexState::valid) {
                drop = core_drop_index_sql(qualified, caller);
                role = acting_role(job->creator, job->relid);
            }
        }
        commit_txn();
        (void)MemoryContextSwitchTo(caller);
        if (drop != nullptr)
            run_top_level(drop, role);
    }
    PG_CATCH();
    {
        (void)MemoryContextSwitchTo(caller);
        ErrorData *edata = CopyErrorData();
        FlushErrorState();
        AbortCurrentTransaction();
        ereport(WARNING, (errmsg("could not remove the index of safe_column job " INT64_FORMAT ": %s", job->id,
                                 edata->message),
                          errhint("Drop it with DROP INDEX CONCURRENTLY.")));
    }
    PG_END_TRY();
}

}  // namespace sc::pg
