// A serial column staged (stage mode, ADD COLUMN ... serial): what PostgreSQL's serial makes, without
// the rewrite (staged_serial.cpp).
#pragma once

#include "pg/pg_includes.hpp"

namespace sc::pg {

struct InlineConstraints;

// Creates the sequence `sequence` (qualified and quoted; NULL: the name PostgreSQL's serial would
// choose) AS `type`, of the table's persistence and owner; adds the column with nextval() of it as its
// default and NOT NULL, as a safe_add_column job (the worker numbers the existing rows from the same
// sequence); then makes the sequence owned by the column. All in the caller's transaction. A column
// that exists already is the job's re-run (add_column_job's comparison, with its owned sequence).
// Returns the job id.
int64 stage_serial_column(Oid relid, const char *column, const char *type, const char *sequence, char **forecast,
                          const InlineConstraints *inline_cons = nullptr);

// An identity column staged (stage mode, ADD COLUMN ... GENERATED ALWAYS / BY DEFAULT AS IDENTITY
// without sequence options): the same steps with a staging sequence (table_column_staging_seq), and the
// job's last DDL step (set_identity) makes the column the identity column the plain statement makes,
// its own sequence going on after the numbered rows, the staging one dropped. Returns the job id.
int64 stage_identity_column(Oid relid, const char *column, const char *type, bool always, char **forecast,
                            const InlineConstraints *inline_cons = nullptr);

// The sequence PostgreSQL's serial would create for a new column of the table: a free name
// (table_column_seq), qualified and quoted.
char *serial_sequence_name(Oid relid, const char *column);

// The integer type of a serial type name (serial, bigserial, serial8, ...), or NULL. In any case, or
// (exact_case: as the parser's raw tree has it, where only the lower-case names are serial) exactly.
const char *serial_integer_type(const char *type_name, bool exact_case = false);

}  // namespace sc::pg
