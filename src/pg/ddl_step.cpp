#include <string>

#include "core/sql_text.hpp"
#include "pg/add_column.hpp"
#include "pg/ddl_step.hpp"
#include "pg/guard.hpp"
#include "pg/lock.hpp"
#include "pg/staged_constraints.hpp"
#include "pg/worker_session.hpp"
#include "pg/compat.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "catalog/pg_attribute.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/memutils.h"
}

namespace sc::pg {

namespace {

enum class Ddl { add_check, add_not_null, validate, set_not_null, drop_constraint, drop_default, drop_sequence };

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
    case Ddl::drop_default:
        return sc::sql::drop_default(table, column);
    case Ddl::drop_sequence:
        return sc::sql::drop_sequence(constraint);
    }
    return {};
}

// The step's statement, shown in pg_stat_activity as "safe_column job N: <phase> <statement>" while it
// runs (a VALIDATE can scan for a long time: what the worker does is visible).
void run_job_ddl(const Job *job, const char *sql) {
    pgstat_report_activity(STATE_RUNNING, psprintf("safe_column job " INT64_FORMAT ": %s %s", job->id,
                                                   sc::phase_name(job->phase), sql));
    run_extension_ddl(sql);
}

char *core_staged_text(const char *table, const char *constraint, const char *definition) {
    return cpp_entry("safe_column worker", [&] {
        throw_injected_fault("ddl");
        std::string text = sc::sql::add_constraint(table, constraint, definition);
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

char *core_ddl(Ddl which, const char *table, const char *column, const char *constraint) {
    return cpp_entry("safe_column worker", [&] {
        std::string text = core_ddl_text(which, table, column, constraint);
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

}  // namespace

namespace {

// add_check: each staged constraint not there yet, NOT VALID, with the locks its ALTER TABLE takes
// (a CHECK: ACCESS EXCLUSIVE; a FOREIGN KEY: SHARE ROW EXCLUSIVE on both tables), queue-safely.
void add_staged(Job *job, List *staged, const char *table, const char *what) {
    ListCell *lc;
    foreach (lc, staged) {
        auto *sc = static_cast<StagedConstraint *>(lfirst(lc));
        bool validated = false;
        if ((sc->contype != 'c' && sc->contype != 'f') || constraint_state(job->relid, sc->name, &validated))
            continue;
        bool fk = sc->contype == 'f';
        List *also = fk && OidIsValid(sc->ref_relid) && sc->ref_relid != job->relid ? list_make1_oid(sc->ref_relid) : NIL;
        (void)lock_queue_safe(job->relid, fk ? ShareRowExclusiveLock : AccessExclusiveLock, true, what, also,
                              ShareRowExclusiveLock);
        RoleSwitch rs;
        as_table_owner(job->creator, job->relid, &rs);
        run_job_ddl(job, core_staged_text(table, quote_identifier(sc->name), sc->definition));
        back_from_table_owner(&rs);
    }
}

// validate: VALIDATE CONSTRAINT of each one not valid yet (SHARE UPDATE EXCLUSIVE: the application's
// reads and writes go on; a FOREIGN KEY's also takes ROW SHARE on the table it references).
void validate_staged(Job *job, List *staged, const char *table, const char *what) {
    ListCell *lc;
    foreach (lc, staged) {
        auto *sc = static_cast<StagedConstraint *>(lfirst(lc));
        if (sc->contype != 'c' && sc->contype != 'f')
            continue;
        bool validated = false;
        if (!constraint_state(job->relid, sc->name, &validated) || validated)
            continue;
        List *also = sc->contype == 'f' && OidIsValid(sc->ref_relid) && sc->ref_relid != job->relid
                         ? list_make1_oid(sc->ref_relid)
                         : NIL;
        (void)lock_queue_safe(job->relid, ShareUpdateExclusiveLock, true, what, also, RowShareLock);
        RoleSwitch rs;
        as_table_owner(job->creator, job->relid, &rs);
        run_job_ddl(job, core_ddl(Ddl::validate, table, "", quote_identifier(sc->name)));
        back_from_table_owner(&rs);
    }
}

// attach_index: the index the worker built becomes the column's UNIQUE / PRIMARY KEY (ADD CONSTRAINT ...
// USING INDEX: ACCESS EXCLUSIVE, brief, queue-safe; the index is renamed to nothing, it bears the
// constraint's name already). Nothing to do when the constraint is there (a crash after its commit).
void attach_index(Job *job, const char *table, const char *what) {
    StagedConstraint *ix = staged_of_kind(job->id, "up");  // (a CREATE INDEX's has nothing to attach)
    bool validated = false;
    if (ix == nullptr || constraint_state(job->relid, ix->name, &validated))
        return;
    (void)lock_queue_safe(job->relid, AccessExclusiveLock, true, what);
    RoleSwitch rs;
    as_table_owner(job->creator, job->relid, &rs);
    run_job_ddl(job, core_staged_text(table, quote_identifier(ix->name), ix->definition));
    back_from_table_owner(&rs);
}

bool is_identity(Oid relid, AttrNumber attnum) {
    HeapTuple tup = SearchSysCacheAttNum(relid, attnum);
    if (!HeapTupleIsValid(tup))
        return false;
    bool identity = reinterpret_cast<Form_pg_attribute>(GETSTRUCT(tup))->attidentity != '\0';
    ReleaseSysCache(tup);
    return identity;
}

char *core_identity_text(const char *table, const char *column, const char *identity) {
    return cpp_entry("safe_column worker", [&] {
        throw_injected_fault("ddl");
        std::string text = sc::sql::add_identity(table, column, identity);
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

// set_identity: the column, numbered from its staging sequence and NOT NULL, becomes the identity column
// the plain statement makes: its default goes, GENERATED ... AS IDENTITY comes (with a sequence of its
// own, named as PostgreSQL names it), that sequence is set to where the staging one is, and the staging
// one is dropped. One transaction under ACCESS EXCLUSIVE (brief, queue-safe): no row gets a number from
// either sequence in between. Nothing to do when the column is an identity already (a crash after the
// commit).
void set_identity(Job *job, const char *table, const char *column, const char *what) {
    StagedConstraint *id = staged_of_kind(job->id, "i");
    if (id == nullptr || is_identity(job->relid, job->attnum))
        return;
    if (!OidIsValid(id->ref_relid) || get_rel_name(id->ref_relid) == nullptr)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("the staging sequence of the job was dropped"),
                        errhint("The column's numbers cannot be carried over to an identity sequence.")));
    char *staging = quote_qualified_identifier(get_namespace_name(get_rel_namespace(id->ref_relid)),
                                               get_rel_name(id->ref_relid));
    (void)lock_queue_safe(job->relid, AccessExclusiveLock, true, what);
    RoleSwitch rs;
    as_table_owner(job->creator, job->relid, &rs);
    // Where the staging sequence is, read under the lock: no row takes a number from it after this.
    spi_exec_args(psprintf("SELECT last_value, is_called FROM %s", staging), 0, nullptr, nullptr, SPI_OK_SELECT);
    bool isnull;
    Datum last = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    Datum called = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
    run_job_ddl(job, core_ddl(Ddl::drop_default, table, column, ""));
    run_job_ddl(job, core_identity_text(table, column, id->definition));
    // Dropped before the setval: while the column owns both, pg_get_serial_sequence finds the staging one.
    run_job_ddl(job, core_ddl(Ddl::drop_sequence, table, column, staging));
    Oid types[4] = {TEXTOID, TEXTOID, INT8OID, BOOLOID};
    Datum values[4] = {CStringGetTextDatum(table), CStringGetTextDatum(get_attname(job->relid, job->attnum, false)),
                       last, called};
    spi_exec_args("SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence($1, $2), $3, $4)", 4, types, values,
                  SPI_OK_SELECT);
    back_from_table_owner(&rs);
}

// The NOT NULL sequence's own step (a job without NOT NULL has no helper constraint).
bool helper_step(Job *job, const char *column, const char *table, const char *what) {
    if (job->constraint_name == nullptr)
        return false;
    const char *con = quote_identifier(job->constraint_name);
    bool validated = false;
    bool native = false;
    bool exists = constraint_state(job->relid, job->constraint_name, &validated, &native);
    RoleSwitch rs;
    switch (job->phase) {
    case sc::JobPhase::add_check:
        if (!exists) {
            (void)lock_queue_safe(job->relid, AccessExclusiveLock, true, what);
            as_table_owner(job->creator, job->relid, &rs);
            run_job_ddl(job,
                        core_ddl(compat::not_null_not_valid ? Ddl::add_not_null : Ddl::add_check, table, column, con));
            back_from_table_owner(&rs);
            native = compat::not_null_not_valid;
        }
        break;
    case sc::JobPhase::validate:
        if (exists && !validated) {
            (void)lock_queue_safe(job->relid, ShareUpdateExclusiveLock, true, what);
            as_table_owner(job->creator, job->relid, &rs);
            run_job_ddl(job, core_ddl(Ddl::validate, table, column, con));
            back_from_table_owner(&rs);
        }
        break;
    case sc::JobPhase::set_not_null:
        if (native && validated)
            break;
        (void)lock_queue_safe(job->relid, AccessExclusiveLock, true, what);
        as_table_owner(job->creator, job->relid, &rs);
        run_job_ddl(job, core_ddl(Ddl::set_not_null, table, column, con));
        // Only the helper CHECK is dropped: from 18, SET NOT NULL makes a NOT NULL constraint of its own,
        // which may bear the very name the job chose for its constraint.
        if (exists && !native)
            run_job_ddl(job, core_ddl(Ddl::drop_constraint, table, column, con));
        back_from_table_owner(&rs);
        break;
    default:
        break;
    }
    return native;
}

}  // namespace

// One DDL step: the NOT NULL sequence's, then the staged constraints' of the same phase. From
// PostgreSQL 18 the helper constraint is NOT NULL ... NOT VALID itself: validated, it is the column's
// NOT NULL, and the set_not_null step (its ACCESS EXCLUSIVE lock included) is not needed.
DdlStepResult run_ddl_step(Job *job, const char *column) {
    char *table = qualified_name(job->relid);
    char *what = psprintf("%s of safe_column job " INT64_FORMAT, sc::phase_name(job->phase), job->id);
    DdlStepResult res{};
    if (job->phase == sc::JobPhase::attach_index) {
        attach_index(job, table, what);
        return res;
    }
    if (job->phase == sc::JobPhase::set_identity) {
        set_identity(job, table, column, what);
        return res;
    }
    res.native_not_null = helper_step(job, column, table, what);
    List *staged = load_staged_constraints(job->id);
    res.staged_constraints = has_staged_kind(staged, "cf");
    if (job->phase == sc::JobPhase::add_check)
        add_staged(job, staged, table, what);
    else if (job->phase == sc::JobPhase::validate)
        validate_staged(job, staged, table, what);
    return res;
}

// A NOT NULL job that fails after adding its CHECK (col IS NOT NULL) NOT VALID must not leave it in
// place: every application UPDATE of a row still NULL would fail. Nor a staged constraint NOT VALID (a
// violating row failed the job: nothing half-enforced stays behind). They are removed (queue-safe
// lock), and the job goes back to its sweep, so that a resume fills the rows, adds them again
// (add_check), and validates them: never a SET NOT NULL without the constraint that spares its scan. A
// validated one stays: every row has a value then, and SET NOT NULL needs it to skip its scan.
namespace {

// Drops the constraint when it is there and not valid; whether it did.
bool drop_if_not_valid(const Job *job, Oid relid, const char *table, const char *name) {
    bool validated = false;
    if (!constraint_state(relid, name, &validated) || validated)
        return false;
    (void)lock_queue_safe(relid, AccessExclusiveLock, true, "remove a constraint of a failed job that is not valid yet");
    run_job_ddl(job, core_ddl(Ddl::drop_constraint, table, "", quote_identifier(name)));
    return true;
}

}  // namespace

void remove_helper_after_failure(Job *job) {
    MemoryContext oldcxt = CurrentMemoryContext;
    PG_TRY();
    {
        begin_txn("safe_column: removing the constraints of a failed job that are not valid yet");
        char *table = qualified_name(job->relid);
        bool dropped = false;
        if (table != nullptr) {
            if (job->constraint_name != nullptr)
                dropped = drop_if_not_valid(job, job->relid, table, job->constraint_name);
            ListCell *lc;
            foreach (lc, load_staged_constraints(job->id))
                dropped = drop_if_not_valid(job, job->relid, table, static_cast<StagedConstraint *>(lfirst(lc))->name) ||
                          dropped;
        }
        if (dropped) {
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
        ereport(WARNING, (errmsg("could not remove the constraints of failed safe_column job " INT64_FORMAT
                                 " that are not valid yet: %s", job->id, edata->message),
                          errhint("Cancel the job with safe_column_cancel(" INT64_FORMAT "), which removes them.", job->id)));
    }
    PG_END_TRY();
}

}  // namespace sc::pg
