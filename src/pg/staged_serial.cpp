// A serial column, staged. PostgreSQL's ADD COLUMN n bigserial creates a sequence and adds the column
// with DEFAULT nextval() of it, NOT NULL: a volatile default, so every existing row is numbered in a
// rewrite under ACCESS EXCLUSIVE. Staged, the same catalog comes about in steps that rewrite nothing:
// the sequence (as PostgreSQL names it, of the column's type, the table's persistence and owner); the
// column through safe_add_column with that default and NOT NULL (new rows are numbered at once, the
// worker numbers the existing ones from the same sequence in batches, then enforces NOT NULL); the
// sequence owned by the column (dropped with it), as pg_get_serial_sequence finds it.
#include "pg/staged_serial.hpp"
#include "pg/add_column.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

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

}  // namespace

int64 stage_serial_column(Oid relid, const char *column, const char *type, const char *sequence, char **forecast) {
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
    char *default_expr = psprintf("nextval(%s::regclass)", quote_literal_cstr(sequence));
    int64 job = add_column_job(relid, column, type, default_expr, true, nullptr, forecast, nullptr);
    char *table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
    run_ddl(psprintf("ALTER SEQUENCE %s OWNED BY %s.%s", sequence, table, quote_identifier(column)));
    return job;
}

}  // namespace sc::pg
