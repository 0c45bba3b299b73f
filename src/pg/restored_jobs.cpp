// Job rows that arrive from elsewhere than safe_add_column: a pg_dump / pg_restore (and pg_dumpall, a
// plain script through psql) restores the extension's job tables as config tables (their data is
// dumped with the database; pg_extension_config_dump in the 0.3 script). Their table references are
// regclass, written by name and read back as the restored table's OID. What the rows say about the
// old database's files, and its roles, is made true of the restored one here, by a BEFORE INSERT
// trigger: the column's attnum is looked up by name, the job's creator becomes the table's owner (a
// role OID means another role in another cluster; the worker always runs the job as the owner), a
// part's block positions are forgotten (the restored table's rows sit elsewhere: the part is measured
// when the worker reaches it, and its batches fill only rows still without a value), and an
// unfinished job is paused with the reason, never run by itself on a copy of the database.
#include "pg/restored_jobs.hpp"
#include "pg/guard.hpp"
#include "pg/jobs.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace sc::pg {

namespace {

// The transaction in which safe_add_column writes its own job rows (never one a restore runs in).
TransactionId own_rows_xid = InvalidTransactionId;

bool written_here() {
    TransactionId xid = GetTopTransactionIdIfAny();
    return TransactionIdIsValid(xid) && TransactionIdEquals(xid, own_rows_xid);
}

struct RowEdit {
    TupleDesc desc;
    Datum *values;
    bool *nulls;
    bool *replace;
};

int column(const RowEdit &e, const char *name) {
    int n = SPI_fnumber(e.desc, name);
    if (n <= 0)
        elog(ERROR, "safe_column: job table has no column \"%s\"", name);
    return n - 1;
}

void set(RowEdit &e, const char *name, Datum value, bool isnull = false) {
    int i = column(e, name);
    e.values[i] = value;
    e.nulls[i] = isnull;
    e.replace[i] = true;
}

char *text_at(const RowEdit &e, HeapTuple tup, const char *name) {
    return SPI_getvalue(tup, e.desc, column(e, name) + 1);
}

bool is_unfinished(const char *state) { return is_running_state(state) || strcmp(state, "paused") == 0; }

// A job row: its column found by name, its creator the table's owner, an unfinished job paused.
void restore_job_row(RowEdit &e, HeapTuple tup) {
    bool isnull;
    Oid relid = DatumGetObjectId(SPI_getbinval(tup, e.desc, column(e, "relid") + 1, &isnull));
    char *colname = text_at(e, tup, "column_name");
    char *state = text_at(e, tup, "state");
    int64 job_id = DatumGetInt64(SPI_getbinval(tup, e.desc, column(e, "job_id") + 1, &isnull));
    HeapTuple rel = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(rel))
        return;  // an OID the dump did not write as a name: left as it is (the job's table is gone)
    set(e, "created_by", ObjectIdGetDatum(reinterpret_cast<Form_pg_class>(GETSTRUCT(rel))->relowner));
    ReleaseSysCache(rel);
    // A staged CREATE INDEX (0.4) has no column.
    AttrNumber attnum = colname ? get_attnum(relid, colname) : InvalidAttrNumber;
    if (colname != nullptr)
        set(e, "attnum", Int16GetDatum(attnum));
    if (!is_unfinished(state))
        return;
    char *table = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
    if (colname == nullptr) {
        set(e, "state", CStringGetTextDatum("paused"));
        set(e, "pause_reason",
            CStringGetTextDatum(psprintf("restored from a dump while %s: resume it to build the index", state)));
        ereport(WARNING, (errmsg("safe_column job %lld building an index on table %s was restored unfinished, paused",
                                 static_cast<long long>(job_id), table),
                          errhint("Resume it with SELECT safe_column_resume(%lld); or cancel it with safe_column_cancel.",
                                  static_cast<long long>(job_id))));
        return;
    }
    if (attnum == InvalidAttrNumber) {
        set(e, "state", CStringGetTextDatum("failed"));
        set(e, "error", CStringGetTextDatum(psprintf("restored from a dump while %s, but table %s has no column \"%s\""
                                                     " (renamed since the job was created)",
                                                     state, table, colname)));
        return;
    }
    char *phase = text_at(e, tup, "phase");
    if (strcmp(phase, "sweep") == 0)
        set(e, "phase", CStringGetTextDatum("backfill"));
    set(e, "pass_rows", Int64GetDatum(0));
    set(e, "state", CStringGetTextDatum("paused"));
    set(e, "pause_reason", CStringGetTextDatum(psprintf("restored from a dump while %s: resume it to finish", state)));
    ereport(WARNING, (errmsg("safe_column job %lld on column \"%s\" of table %s was restored unfinished, paused",
                             static_cast<long long>(job_id), colname, table),
                      errdetail("The dump was taken while the job was %s: rows it holds may have no value yet in"
                                " that column.",
                                state),
                      errhint("Resume it with SELECT safe_column_resume(%lld); or cancel it with "
                              "safe_column_cancel.",
                              static_cast<long long>(job_id))));
}

// A part of a job: its positions mean nothing in the restored files; measured when the worker gets to it.
void restore_part_row(RowEdit &e) {
    set(e, "next_block", Int64GetDatum(0));
    set(e, "end_block", Int64GetDatum(0));
    set(e, "done", BoolGetDatum(false));
}

Datum restored_row(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("safe_column_restored_row: not called by trigger manager")));
    TriggerData *td = reinterpret_cast<TriggerData *>(fcinfo->context);
    HeapTuple tup = td->tg_trigtuple;
    if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
        !TRIGGER_FIRED_BY_INSERT(td->tg_event))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("safe_column_restored_row: must be fired before insert, for each row")));
    if (written_here())
        return PointerGetDatum(tup);
    TupleDesc desc = RelationGetDescr(td->tg_relation);
    int n = desc->natts;
    RowEdit e{desc, static_cast<Datum *>(palloc0(n * sizeof(Datum))), static_cast<bool *>(palloc0(n * sizeof(bool))),
              static_cast<bool *>(palloc0(n * sizeof(bool)))};
    if (SPI_fnumber(desc, "next_block") > 0)
        restore_part_row(e);
    else
        restore_job_row(e, tup);
    return PointerGetDatum(heap_modify_tuple(tup, desc, e.values, e.nulls, e.replace));
}

}  // namespace

void job_rows_written_here() { own_rows_xid = GetTopTransactionId(); }

}  // namespace sc::pg

extern "C" {

PG_FUNCTION_INFO_V1(safe_column_restored_row);

Datum safe_column_restored_row(PG_FUNCTION_ARGS) {
    return sc::pg::cpp_entry("safe_column_restored_row", [&] { return sc::pg::restored_row(fcinfo); });
}

}  // extern "C"
