// Queue-safe acquisition of a strong table lock.
#pragma once

#include "pg/pg_includes.hpp"

extern "C" {
#include "nodes/pg_list.h"
#include "storage/lockdefs.h"
}

namespace sc::pg {

struct LockOutcome {
    int attempts = 0;
    double waited_ms = 0;  // from the first attempt to the lock (or to giving up)
};

// Lock relid (and, with inheritors, every partition and inheritance child) in mode, in the current
// transaction, without ever making other sessions wait more than safe_column.lock_timeout at a time:
// each attempt runs in a subtransaction with a short lock_timeout; between attempts the backend sleeps
// with jittered exponential backoff, outside the lock queue; after safe_column.lock_wait_budget it
// raises lock_not_available naming the blocking processes. When the current transaction already holds
// strong locks on other relations that sleeping would prolong, it makes one attempt only.
// `what` names the operation in messages, e.g. "add column \"status\" to \"users\"".
// also (a List of relation OIDs, or NIL): relations the statement will lock too, in also_mode with
// their partitions (e.g. the table a foreign key references): taken in the same attempts, after relid,
// so that no lock of the statement ever waits in a queue longer than one attempt.
LockOutcome lock_queue_safe(Oid relid, LOCKMODE mode, bool inheritors, const char *what, List *also = NIL,
                            LOCKMODE also_mode = NoLock);

}  // namespace sc::pg
