// Logical replication and a new column: a publication that publishes all of a table's columns sends a
// new column to every subscriber, and a subscriber whose table lacks it stops applying changes
// ("logical replication target relation ... is missing replicated column") until someone adds it there.
// safe_add_column (and so stage mode) and the hook's plain ADD COLUMN say so before the column is added
// (safe_column.publication_check: warn, the default; refuse; off).
#pragma once

#include "pg/pg_includes.hpp"

namespace sc::pg {

enum class PublicationCheck { off, warn, refuse };
extern int publication_check;  // safe_column.publication_check (PublicationCheck)

// The publications that would send a new column of relid (no column list), with the logical slots of
// this database, as a WARNING (or, with refuse, an ERROR) naming column; nothing when there is none.
void check_publications(Oid relid, const char *column);

// The same facts as a note for safe_column_plan (NULL when no publication would send a new column).
// SPI of its own.
char *publication_note(Oid relid);

}  // namespace sc::pg
