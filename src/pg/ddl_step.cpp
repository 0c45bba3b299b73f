#include <string>

#include "core/sql_text.hpp"
#include "pg/add_column.hpp"
#include "pg/ddl_step.hpp"
#include "pg/guard.hpp"
#include "pg/lock.hpp"
#include "pg/worker_session.hpp"
#include "pg/compat.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
}

namespace sc::pg {

namespace {

enum class Ddl { add_check, add_not_null, validate, set_not_null, drop_constraint };

std::string core_ddl_text(Ddl which, const char *table, const char *column, const char *constraint) {
    throw_injected_fault("ddl");
    switch (which) {
    case Ddl::add_check:
        return sc::sql::add_not_null_check(table, constraint, column);
    case Ddl::add_not_null:
        return sc::sql::add_not_null_not_valid(table, constraint, column);
    case Ddl::validate:
        return sc::sql::validate_constraint(table, constraint);
    case Ddl::set_not_null:
        return sc::sql::set_not_null(table, column);
    case Ddl::drop_constraint:
        return sc::sql::drop_constraint(table, constraint);
    }
    return {};
}

char *core_ddl(Ddl which, const char *table, const char *column, const char *constraint) {
    return cpp_entry("safe_column worker", [&] {
        std::string text = core_ddl_text(which, table, column, constraint);
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

// The job's constraint: whether it exists, is validated, and is a NOT NULL constraint (contype 'n', 18
// and later) rather than the CHECK (col IS NOT NULL) of earlier versions.
bool constraint_exists(Oid relid, const char *name, bool *validated, bool *native = nullptr) {
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

}  // namespace

// One DDL step of the NOT NULL sequence, with the queue-safe lock, as the creator. From PostgreSQL 18
// the constraint is NOT NULL ... NOT VALID itself: validated, it is the column's NOT NULL, and the
// set_not_null step (its ACCESS EXCLUSIVE lock included) is not needed.
bool run_ddl_step(Job *job, const char *column) {
    char *table = qualified_name(job->relid);
    const char *con = quote_identifier(job->constraint_name);
    char *what = psprintf("%s of safe_column job " INT64_FORMAT, sc::phase_name(job->phase), job->id);
    bool validated = false;
    bool native = false;
    bool exists = constraint_exists(job->relid, job->constraint_name, &validated, &native);
    RoleSwitch rs;
    switch (job->phase) {
    case sc::JobPhase::add_check:
        if (!exists) {
            (void)lock_queue_safe(job->relid, AccessExclusiveLock, true, what);
            as_table_owner(job->creator, job->relid, &rs);
            run_extension_ddl(
                core_ddl(compat::not_null_not_valid ? Ddl::add_not_null : Ddl::add_check, table, column, con));
            back_from_table_owner(&rs);
            native = compat::not_null_not_valid;
        }
        break;
    case sc::JobPhase::validate:
        if (exists && !validated) {
            (void)lock_queue_safe(job->relid, ShareUpdateExclusiveLock, true, what);
            as_table_owner(job->creator, job->relid, &rs);
            run_extension_ddl(core_ddl(Ddl::validate, table, column, con));
            back_from_table_owner(&rs);
        }
        break;
    case sc::JobPhase::set_not_null:
        if (native && validated)
            break;
        (void)lock_queue_safe(job->relid, AccessExclusiveLock, true, what);
        as_table_owner(job->creator, job->relid, &rs);
        run_extension_ddl(core_ddl(Ddl::set_not_null, table, column, con));
        // Only the helper CHECK is dropped: from 18, SET NOT NULL makes a NOT NULL constraint of its own,
        // which may bear the very name the job chose for its constraint.
        if (exists && !native)
            run_extension_ddl(core_ddl(Ddl::drop_constraint, table, column, con));
        back_from_table_owner(&rs);
        break;
    default:
        break;
    }
    return native;
}

// A NOT NULL job that fails after adding its CHECK (col IS NOT NULL) NOT VALID must not leave it in
// place: every application UPDATE of a row still NULL would fail. It is removed (queue-safe lock), and
// the job goes back to its sweep, so that a resume fills the rows, adds it again (add_check), and
// validates it: never a SET NOT NULL without the constraint that spares its scan. A validated
// CHECK stays: every row has a value then, and SET NOT NULL needs it to skip its scan.
void remove_helper_after_failure(Job *job) {
    if (job->constraint_name == nullptr)
        return;
    MemoryContext oldcxt = CurrentMemoryContext;
    PG_TRY();
    {
        begin_txn("safe_column: removing the helper constraint of a failed job");
        bool validated = false;
        char *table = qualified_name(job->relid);
        if (table != nullptr && constraint_exists(job->relid, job->constraint_name, &validated) && !validated) {
            (void)lock_queue_safe(job->relid, AccessExclusiveLock, true, "remove the helper constraint of a failed job");
            run_extension_ddl(core_ddl(Ddl::drop_constraint, table, "", quote_identifier(job->constraint_name)));
            reset_parts(job, job->sweep_passes + 1);
            char *sql = psprintf("UPDATE %s SET phase = 'sweep' WHERE job_id = $1", store_table());
            Oid types[1] = {INT8OID};
            Datum values[1] = {Int64GetDatum(job->id)};
            spi_exec_args(sql, 1, types, values, SPI_OK_UPDATE);
        }
        commit_txn();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(oldcxt);
        ErrorData *edata = CopyErrorData();
        FlushErrorState();
        AbortCurrentTransaction();
        ereport(WARNING, (errmsg("could not remove the helper constraint \"%s\" of failed safe_column job " INT64_FORMAT
                                 ": %s", job->constraint_name, job->id, edata->message),
                          errhint("Cancel the job with safe_column_cancel(" INT64_FORMAT "), which removes it.", job->id)));
    }
    PG_END_TRY();
}

}  // namespace sc::pg
