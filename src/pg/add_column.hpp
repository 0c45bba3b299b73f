// safe_add_column(): see add_column.cpp.
#pragma once

#include "pg/pg_includes.hpp"

extern "C" {
#include "nodes/pg_list.h"
}

namespace sc::pg {

// Everything safe_add_column() does once its arguments are read: validate, classify, lock queue-safely,
// change the catalog, record the job (started at commit). Returns the job id. Used by the SQL function
// and by the utility hook's stage mode. *forecast (when asked): for a job that fills existing rows for a
// second or more, its forecast (pg/forecast.hpp); else NULL. inline_cons: the column's own CHECK and
// REFERENCES, staged (pg/staged_constraints.hpp); NULL: none.
struct InlineConstraints;
int64 add_column_job(Oid relid, const char *colname, const char *type_in, char *default_expr, bool not_null,
                     char *backfill_expr, char **forecast = nullptr, const InlineConstraints *inline_cons = nullptr);

// Deparse an expression with every name that is not in pg_catalog schema-qualified, so that it means
// the same objects wherever and whenever it runs (search_path pinned to pg_catalog).
char *deparse_qualified(Node *expr, List *dpcontext);

// Runs one of the extension's own DDL statements through SPI (connected), marked so that the utility
// hook leaves it alone.
void run_extension_ddl(const char *sql);

// True while safe_column itself runs DDL through SPI (the utility hook leaves such statements alone).
extern bool in_safe_column_ddl;

}  // namespace sc::pg
