#include "pg/publications.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace sc::pg {

int publication_check = static_cast<int>(PublicationCheck::warn);

namespace {

// Publications of relid (or of a partition root it is published through) without a column list, and
// the logical slots of this database, each as a comma-separated list ("" when none), in the caller's
// memory. SPI of its own.
void published_with_all_columns(Oid relid, char **pubs, char **slots) {
    MemoryContext caller = CurrentMemoryContext;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    static const char *query =
        "SELECT (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(p.pubname::text), ', ' ORDER BY p.pubname)"
        "          FROM pg_catalog.pg_publication p"
        "         WHERE EXISTS (SELECT FROM pg_catalog.pg_publication_tables t"
        "                        WHERE t.pubname OPERATOR(pg_catalog.=) p.pubname"
        "                          AND t.schemaname OPERATOR(pg_catalog.=) $2 AND t.tablename OPERATOR(pg_catalog.=) $3)"
        "           AND NOT EXISTS (SELECT FROM pg_catalog.pg_publication_rel r"
        "                            WHERE r.prpubid OPERATOR(pg_catalog.=) p.oid"
        "                              AND r.prrelid OPERATOR(pg_catalog.=) $1 AND r.prattrs IS NOT NULL)),"
        "       (SELECT pg_catalog.string_agg(s.slot_name::text || CASE WHEN s.active THEN ' (active)' ELSE '' END,"
        "                                     ', ' ORDER BY s.slot_name)"
        "          FROM pg_catalog.pg_replication_slots s"
        "         WHERE s.slot_type OPERATOR(pg_catalog.=) 'logical'"
        "           AND s.database OPERATOR(pg_catalog.=) pg_catalog.current_database())";
    Oid types[3] = {OIDOID, NAMEOID, NAMEOID};
    Datum values[3] = {ObjectIdGetDatum(relid),
                       DirectFunctionCall1(namein, CStringGetDatum(get_namespace_name(get_rel_namespace(relid)))),
                       DirectFunctionCall1(namein, CStringGetDatum(get_rel_name(relid)))};
    int rc = SPI_execute_with_args(query, 3, types, values, nullptr, true, 1);
    if (rc != SPI_OK_SELECT || SPI_processed != 1)
        elog(ERROR, "could not read the publications: %s", SPI_result_code_string(rc));
    char *p = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    char *s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
    // Copied out of SPI's memory, which SPI_finish() frees.
    *pubs = MemoryContextStrdup(caller, p ? p : "");
    *slots = MemoryContextStrdup(caller, s ? s : "");
    SPI_finish();
}

}  // namespace

char *publication_note(Oid relid) {
    char *pubs, *slots;
    published_with_all_columns(relid, &pubs, &slots);
    if (pubs[0] == '\0')
        return nullptr;
    return psprintf("the table is published with all its columns: publication %s will send the new column to its "
                    "subscribers, and a subscriber whose table lacks it stops applying changes (logical replication "
                    "slots of this database: %s); add the column on each subscriber first, then here "
                    "(safe_column.publication_check = %s)",
                    pubs, slots[0] ? slots : "none",
                    publication_check == static_cast<int>(PublicationCheck::refuse) ? "refuse: refused until then"
                    : publication_check == static_cast<int>(PublicationCheck::warn) ? "warn: a WARNING"
                                                                                    : "off: no word");
}

void check_publications(Oid relid, const char *column) {
    auto mode = static_cast<PublicationCheck>(publication_check);
    if (mode == PublicationCheck::off)
        return;
    char *pubs, *slots;
    published_with_all_columns(relid, &pubs, &slots);
    if (pubs[0] == '\0')
        return;
    const char *table = get_rel_name(relid);
    ereport(mode == PublicationCheck::refuse ? ERROR : WARNING,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("table \"%s\" is published with all its columns: publication %s will send column \"%s\" to its "
                    "subscribers",
                    table, pubs, column),
             errdetail("A subscriber whose table \"%s\" has no column \"%s\" stops applying changes until the column "
                       "is added there. Logical replication slots of this database: %s.",
                       table, column, slots[0] ? slots : "none"),
             errhint(mode == PublicationCheck::refuse
                         ? "Add the column on each subscriber first, then here with safe_column.publication_check = "
                           "warn (SET LOCAL)."
                         : "Add the column on each subscriber first, then here.")));
}

}  // namespace sc::pg
