// Running a piece of PostgreSQL work in a subtransaction, and getting its error back as data.
#pragma once

#include "pg/pg_includes.hpp"

namespace sc::pg {

// Runs fn(arg) in a subtransaction. When it succeeds, its effects and locks pass to the current
// transaction and the result is NULL. When it raises an ERROR, the subtransaction is rolled back (its
// locks released) and the error comes back, copied into the caller's memory context, for the caller to
// re-raise (ReThrowError) or to handle. fn must be C-like: no C++ object with a destructor in it.
ErrorData *run_in_subtransaction(void (*fn)(void *), void *arg);

}  // namespace sc::pg
