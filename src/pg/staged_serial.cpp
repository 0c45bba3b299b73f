// A serial column, staged. PostgreSQL's ADD COLUMN n bigserial creates a sequence and adds the column
// with DEFAULT nextval() of it, NOT NULL: a volatile default, so every existing row is numbered in a
// rewrite under ACCESS EXCLUSIVE. Staged, the same catalog comes about in steps that rewrite nothing:
// the sequence (as PostgreSQL names it, of the column's type, the table's persistence and owner); the
// column through safe_add_column with that default and NOT NULL (new rows are numbered at once, the
// worker numbers the existing ones from the same sequence in batches, then enforces NOT NULL); the
// sequence owned by the column (dropped with it), as pg_get_serial_sequence finds it.
#include "pg/staged_serial.hpp"
#include "pg/add_column.hpp"
#include "pg/guard.hpp"
#include "pg/jobs.hpp"
#include "pg/staged_constraints.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

#include "pg/compat.hpp"

namespace sc::pg {

namespace {

const char *persistence_word(char relpersistence) {
    switch (relpersistence) {
    case RELPERSISTENCE_UNLOGGED:
        return "UNLOGGED ";
    case RELPERSISTENCE_TEMP:
        return "TEMPORARY ";
    default:
        return "";
    }
}

void run_ddl(const char *sql) {
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    run_extension_ddl(sql);
    SPI_finish();
}

// The sequence owned by an existing column (pg_get_serial_sequence), or NULL.
char *owned_sequence(Oid relid, const char *column) {
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    Oid types[2] = {OIDOID, TEXTOID};
    Datum values[2] = {ObjectIdGetDatum(relid), CStringGetTextDatum(column)};
    int rc = SPI_execute_with_args("SELECT pg_catalog.pg_get_serial_sequence($1::pg_catalog.regclass::pg_catalog.text, "
                                   "pg_catalog.quote_ident($2))",
                                   2, types, values, nullptr, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    char *seq = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : nullptr;
    char *out = seq ? MemoryContextStrdup(CurTransactionContext, seq) : nullptr;
    SPI_finish();
    return out;
}

char *nextval_of(const char *sequence) { return psprintf("nextval(%s::regclass)", quote_literal_cstr(sequence)); }

}  // namespace

char *serial_sequence_name(Oid relid, const char *column) {
    Oid nsp = get_rel_namespace(relid);
    char *seq = ChooseRelationName(get_rel_name(relid), column, "seq", nsp, false);
    return quote_qualified_identifier(get_namespace_name(nsp), seq);
}

const char *serial_integer_type(const char *type_name, bool exact_case) {
    static const struct {
        const char *name, *type;
    } serials[] = {{"smallserial", "smallint"}, {"serial2", "smallint"}, {"serial", "integer"},
                   {"serial4", "integer"},      {"bigserial", "bigint"},  {"serial8", "bigint"}};
    for (const auto &s : serials)
        if ((exact_case ? strcmp(type_name, s.name) : pg_strcasecmp(type_name, s.name)) == 0)
            return s.type;
    return nullptr;
}

namespace {

// The sequence, the column numbered from it, OWNED BY: the steps serial and identity share.
int64 sequence_column(Oid relid, const char *column, const char *type, const char *sequence, char **forecast,
                      const InlineConstraints *inline_cons) {
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "cache lookup failed for relation %u", relid);
    auto *cls = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup));
    char persistence = cls->relpersistence;
    Oid owner = cls->relowner;
    ReleaseSysCache(tup);
    run_ddl(psprintf("CREATE %sSEQUENCE %s AS %s", persistence_word(persistence), sequence, type));
    if (owner != GetUserId())
        run_ddl(psprintf("ALTER SEQUENCE %s OWNER TO %s", sequence, quote_identifier(GetUserNameFromId(owner, false))));
    int64 job = add_column_job(relid, column, type, nextval_of(sequence), true, nullptr, forecast, inline_cons);
    char *table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
    run_ddl(psprintf("ALTER SEQUENCE %s OWNED BY %s.%s", sequence, table, quote_identifier(column)));
    return job;
}

}  // namespace

int64 stage_serial_column(Oid relid, const char *column, const char *type, const char *sequence, char **forecast,
                          const InlineConstraints *inline_cons) {
    if (get_attnum(relid, column) != InvalidAttrNumber) {
        char *owned = owned_sequence(relid, column);
        return add_column_job(relid, column, type, nextval_of(owned ? owned : serial_sequence_name(relid, column)), true,
                              nullptr, forecast, inline_cons);
    }
    return sequence_column(relid, column, type, sequence ? sequence : serial_sequence_name(relid, column), forecast,
                           inline_cons);
}

namespace {

const char *identity_text(bool always) {
    return always ? "GENERATED ALWAYS AS IDENTITY" : "GENERATED BY DEFAULT AS IDENTITY";
}

// PostgreSQL's own check (transformColumnDefinition), before anything is created.
void check_identity_type(const char *type) {
    Oid typid;
    int32 typmod;
    compat::parse_type_string(type, &typid, &typmod);
    if (typid != INT2OID && typid != INT4OID && typid != INT8OID)
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("identity column type must be smallint, integer, or bigint")));
}

// The column exists: the same identity column a job added is that job (a re-run), anything else
// duplicate_column.
int64 existing_identity(Oid relid, const char *column, bool always) {
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    JobRecord job{};
    bool have_job = find_column_job(relid, get_attnum(relid, column), &job);
    StagedConstraint *id = nullptr;
    if (have_job) {
        OwnerContext ctx;
        enter_owner_context(&ctx);
        id = staged_of_kind(job.job_id, "i");
        leave_owner_context(&ctx);
    }
    if (id == nullptr || strcmp(id->definition, identity_text(always)) != 0)
        ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
                        errmsg("column \"%s\" of relation \"%s\" already exists", column, get_rel_name(relid)),
                        id == nullptr ? errdetail("It was not added as an identity column by safe_column.")
                                      : errdetail("It was added %s.", id->definition),
                        errhint("Choose another column name, or drop the column first.")));
    ereport(NOTICE, (errmsg("column \"%s\" of relation \"%s\" already exists as added by job %lld, skipping", column,
                            get_rel_name(relid), static_cast<long long>(job.job_id))));
    SPI_finish();
    return job.job_id;
}

}  // namespace

int64 stage_identity_column(Oid relid, const char *column, const char *type, bool always, char **forecast,
                            const InlineConstraints *inline_cons) {
    if (get_attnum(relid, column) != InvalidAttrNumber)
        return existing_identity(relid, column, always);
    check_identity_type(type);
    // The staging sequence's name is not the one the identity's own sequence will take (table_column_seq).
    Oid nsp = get_rel_namespace(relid);
    char *staging = quote_qualified_identifier(
        get_namespace_name(nsp), ChooseRelationName(get_rel_name(relid), column, "staging_seq", nsp, false));
    InlineConstraints ic = inline_cons ? *inline_cons : InlineConstraints{};
    ic.identity = true;
    ic.identity_always = always;
    ic.identity_sequence = staging;
    return sequence_column(relid, column, type, staging, forecast, &ic);
}

}  // namespace sc::pg
