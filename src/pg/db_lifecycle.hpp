// A database's life around its worker (DROP DATABASE, ALTER DATABASE RENAME) and the extension's own
// (DROP EXTENSION removes the helper constraints of unfinished jobs first), as the utility hook sees
// them (hook.cpp).
#pragma once

#include "pg/pg_includes.hpp"

extern "C" {
#include "nodes/parsenodes.h"
}

namespace sc::pg {

// Before DROP DATABASE (drop) or ALTER DATABASE RENAME: keep the database's workers away.
void hold_database_for(const char *dbname, bool drop);
bool drops_this_extension(DropStmt *drop);
void drop_helper_constraints();
// The transaction callbacks behind them (registered by hook_init).
void register_lifecycle_callbacks();

}  // namespace sc::pg
