#include <string>
#include <type_traits>
#include <vector>

#include "core/lock_report.hpp"
#include "core/lock_retry.hpp"
#include "pg/guard.hpp"
#include "pg/guc.hpp"
#include "pg/lock.hpp"
#include "pg/subxact.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

namespace sc::pg {

static_assert(std::is_trivially_destructible_v<sc::LockRetrySchedule>,
              "the retry schedule lives across PostgreSQL calls that may longjmp");

namespace {

double ms_since(TimestampTz start) {
    return static_cast<double>(GetCurrentTimestamp() - start) / 1000.0;
}

void set_lock_timeout(int ms) {
    char buf[32];
    snprintf(buf, sizeof buf, "%dms", ms < 1 ? 1 : ms);
    (void)set_config_option("lock_timeout", buf, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

struct LockAttempt {
    Oid relid;
    LOCKMODE mode;
    bool inheritors;
    List *also;
    LOCKMODE also_mode;
    int timeout_ms;
};

// Lock rel, then (once its list of children can no longer change) its inheritors, in mode, each wait
// bounded by what is left until deadline.
void lock_one(Oid rel, LOCKMODE mode, bool inheritors, TimestampTz deadline) {
    auto wait_left = [deadline] {
        set_lock_timeout(static_cast<int>((deadline - GetCurrentTimestamp()) / 1000));
    };
    wait_left();
    LockRelationOid(rel, mode);
    if (!inheritors)
        return;
    List *children = find_all_inheritors(rel, NoLock, nullptr);
    ListCell *lc;
    foreach (lc, children) {
        Oid child = lfirst_oid(lc);
        if (child == rel)
            continue;
        wait_left();
        LockRelationOid(child, mode);
    }
}

// Lock the relation and its inheritors, then the also relations and theirs, each wait bounded so that
// the whole attempt stays within timeout_ms (run in a subtransaction by try_lock_once).
void lock_set(void *arg) {
    auto *a = static_cast<LockAttempt *>(arg);
    TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), a->timeout_ms);
    int nest = NewGUCNestLevel();
    lock_one(a->relid, a->mode, a->inheritors, deadline);
    ListCell *lc;
    foreach (lc, a->also)
        lock_one(lfirst_oid(lc), a->also_mode, true, deadline);
    AtEOXact_GUC(true, nest);
}

// One attempt: true when every lock is held (the subtransaction's locks pass to the transaction),
// false on lock_timeout (every lock of the attempt released). Other errors pass.
bool try_lock_once(Oid relid, LOCKMODE mode, bool inheritors, List *also, LOCKMODE also_mode, int timeout_ms) {
    LockAttempt attempt{relid, mode, inheritors, also, also_mode, timeout_ms};
    ErrorData *edata = run_in_subtransaction(lock_set, &attempt);
    if (edata == nullptr)
        return true;
    if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
        ReThrowError(edata);
    FreeErrorData(edata);
    return false;
}

bool is_target(Oid rel, Oid relid, List *targets) {
    return rel == relid || list_member_oid(targets, rel);
}

// A relation lock of ShareUpdateExclusive or stronger that this transaction holds on a relation other
// sessions can see, outside the target set: sleeping between attempts would keep those sessions out.
// Returns a description ("ShareRowExclusiveLock on orders") or NULL.
char *strong_lock_held(Oid relid, List *targets) {
    LockData *data = GetLockStatusData();
    LOCKMASK strong = 0;
    for (LOCKMODE m = ShareUpdateExclusiveLock; m <= AccessExclusiveLock; m++)
        strong |= LOCKBIT_ON(m);
    for (int i = 0; i < data->nelements; i++) {
        LockInstanceData *inst = &data->locks[i];
        if (inst->pid != MyProcPid || inst->locktag.locktag_type != LOCKTAG_RELATION ||
            inst->locktag.locktag_field1 != MyDatabaseId || (inst->holdMask & strong) == 0)
            continue;
        Oid rel = inst->locktag.locktag_field2;
        if (is_target(rel, relid, targets))
            continue;
        char persistence = get_rel_persistence(rel);
        if (persistence == '\0' || persistence == RELPERSISTENCE_TEMP)
            continue;  // gone, or invisible to other sessions
        Relation r = RelationIdGetRelation(rel);
        if (r == nullptr)
            continue;
        bool created_here = r->rd_createSubid != InvalidSubTransactionId;
        RelationClose(r);
        if (created_here)
            continue;  // created by this transaction: no other session can see it yet
        LOCKMODE held = NoLock;
        for (LOCKMODE m = AccessExclusiveLock; m >= ShareUpdateExclusiveLock; m--)
            if (inst->holdMask & LOCKBIT_ON(m)) {
                held = m;
                break;
            }
        char *name = get_rel_name(rel);
        return psprintf("%s on \"%s\"", GetLockmodeName(DEFAULT_LOCKMETHOD, held), name ? name : "?");
    }
    return nullptr;
}

struct PgBlocker {
    int pid;
    char *relation;
    char *mode;
    char *state;
    double xact_age_s;
    char *query;
};

// Processes holding locks on rels that conflict with mode, as visible to the caller.
int find_blockers(List *rels, LOCKMODE mode, PgBlocker **out) {
    int nrels = list_length(rels);
    Datum *relds = static_cast<Datum *>(palloc(sizeof(Datum) * nrels));
    for (int i = 0; i < nrels; i++)
        relds[i] = ObjectIdGetDatum(list_nth_oid(rels, i));
    ArrayType *relarr = construct_array(relds, nrels, OIDOID, sizeof(Oid), true, TYPALIGN_INT);

    Datum modeds[MAX_LOCKMODES];
    int nmodes = 0;
    for (LOCKMODE m = 1; m <= AccessExclusiveLock; m++)
        if (DoLockModesConflict(m, mode))
            modeds[nmodes++] = CStringGetTextDatum(GetLockmodeName(DEFAULT_LOCKMETHOD, m));
    ArrayType *modearr = construct_array(modeds, nmodes, TEXTOID, -1, false, TYPALIGN_INT);

    static const char *query =
        "SELECT l.pid, l.relation::pg_catalog.regclass::text, l.mode, a.state,"
        "       extract(epoch FROM pg_catalog.clock_timestamp() - a.xact_start)::float8, a.query"
        "  FROM pg_catalog.pg_locks l"
        "  LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_catalog.pg_backend_pid()"
        "   AND l.database = (SELECT oid FROM pg_catalog.pg_database"
        "                      WHERE datname = pg_catalog.current_database())"
        "   AND l.relation = ANY ($1) AND l.mode = ANY ($2)"
        " ORDER BY a.xact_start NULLS LAST, l.pid"
        " LIMIT 10";
    Oid argtypes[2] = {OIDARRAYOID, TEXTARRAYOID};
    Datum values[2] = {PointerGetDatum(relarr), PointerGetDatum(modearr)};

    MemoryContext caller = CurrentMemoryContext;
    SPI_connect();
    int rc = SPI_execute_with_args(query, 2, argtypes, values, nullptr, true, 0);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
    int n = static_cast<int>(SPI_processed);
    MemoryContext spicxt = MemoryContextSwitchTo(caller);
    PgBlocker *blockers = static_cast<PgBlocker *>(palloc0(sizeof(PgBlocker) * (n > 0 ? n : 1)));
    MemoryContextSwitchTo(spicxt);
    for (int i = 0; i < n; i++) {
        HeapTuple tup = SPI_tuptable->vals[i];
        TupleDesc desc = SPI_tuptable->tupdesc;
        bool isnull;
        PgBlocker *b = &blockers[i];
        b->pid = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
        MemoryContextSwitchTo(caller);
        b->relation = SPI_getvalue(tup, desc, 2);
        b->mode = SPI_getvalue(tup, desc, 3);
        b->state = SPI_getvalue(tup, desc, 4);
        Datum age = SPI_getbinval(tup, desc, 5, &isnull);
        b->xact_age_s = isnull ? -1.0 : DatumGetFloat8(age);
        b->query = SPI_getvalue(tup, desc, 6);
        MemoryContextSwitchTo(spicxt);
    }
    SPI_finish();
    MemoryContextSwitchTo(caller);
    *out = blockers;
    return n;
}

char *blocker_detail_text(const PgBlocker *blockers, int n, int attempts, double waited_ms) {
    std::string text;
    {
        std::vector<sc::Blocker> list;
        for (int i = 0; i < n; i++) {
            const PgBlocker &b = blockers[i];
            list.push_back(sc::Blocker{b.pid, b.relation ? b.relation : "", b.mode ? b.mode : "",
                                       b.state ? b.state : "", b.xact_age_s, b.query ? b.query : ""});
        }
        text = sc::blocker_detail(list, attempts, waited_ms);
    }
    return pg_call([&] { return pstrdup(text.c_str()); });
}

// The also relations and all their inheritors.
List *also_targets(List *also) {
    List *all = NIL;
    ListCell *lc;
    foreach (lc, also)
        all = list_concat_unique_oid(all, find_all_inheritors(lfirst_oid(lc), NoLock, nullptr));
    return all;
}

// Blockers of the main relations, then of the also relations, at most 10 in all.
int find_all_blockers(Oid relid, List *targets, LOCKMODE mode, List *also, LOCKMODE also_mode, PgBlocker **out) {
    int n = find_blockers(list_concat_unique_oid(list_make1_oid(relid), targets), mode, out);
    if (also == NIL || n >= 10)
        return n;
    PgBlocker *more;
    int m = find_blockers(also_targets(also), also_mode, &more);
    if (m == 0)
        return n;
    int total = n + m > 10 ? 10 : n + m;
    auto *all = static_cast<PgBlocker *>(palloc(sizeof(PgBlocker) * total));
    for (int i = 0; i < total; i++)
        all[i] = i < n ? (*out)[i] : more[i - n];
    *out = all;
    return total;
}

}  // namespace

LockOutcome lock_queue_safe(Oid relid, LOCKMODE mode, bool inheritors, const char *what, List *also,
                            LOCKMODE also_mode) {
    sc::LockRetryPolicy policy;
    policy.attempt_timeout_ms = lock_timeout_ms;
    policy.budget_ms = lock_wait_budget_ms;
    policy.base_delay_ms = lock_timeout_ms < 50 ? 50 : lock_timeout_ms;
    sc::LockRetrySchedule schedule(policy, static_cast<std::uint64_t>(GetCurrentTimestamp()) ^
                                               (static_cast<std::uint64_t>(MyProcPid) << 32));
    LockOutcome outcome;
    TimestampTz start = GetCurrentTimestamp();
    for (;;) {
        outcome.attempts++;
        if (try_lock_once(relid, mode, inheritors, also, also_mode, schedule.attempt_timeout_ms(ms_since(start)))) {
            outcome.waited_ms = ms_since(start);
            if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
                ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                                errmsg("relation with OID %u was dropped while safe_column waited for its lock",
                                       relid)));
            return outcome;
        }
        double elapsed = ms_since(start);
        List *targets = inheritors ? find_all_inheritors(relid, NoLock, nullptr) : NIL;

        if (outcome.attempts == 1) {
            char *held = strong_lock_held(relid, list_concat_unique_oid(list_copy(targets), also_targets(also)));
            if (held != nullptr)
                ereport(ERROR,
                        (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
                         errmsg("could not lock relation \"%s\" to %s", get_rel_name(relid), what),
                         errdetail("The current transaction holds %s. Waiting for the lock would keep other "
                                   "sessions out of that relation, so safe_column made one attempt only.",
                                   held),
                         errhint("Call this function in its own transaction, or before statements that take "
                                 "strong locks.")));
        }
        std::optional<int> delay = schedule.next_delay_ms(outcome.attempts, elapsed);
        if (!delay) {
            PgBlocker *blockers;
            int n = find_all_blockers(relid, targets, mode, also, also_mode, &blockers);
            char *detail = blocker_detail_text(blockers, n, outcome.attempts, elapsed);
            ereport(ERROR,
                    (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
                     errmsg("could not lock relation \"%s\" to %s within safe_column.lock_wait_budget (%d ms)",
                            get_rel_name(relid), what, lock_wait_budget_ms),
                     errdetail_internal("%s", detail),
                     errhint("Let the blocking transactions finish, or end them with pg_terminate_backend(), and "
                             "try again. Other sessions were not kept waiting longer than "
                             "safe_column.lock_timeout (%d ms) at a time; a larger safe_column.lock_wait_budget "
                             "keeps trying longer.",
                             lock_timeout_ms)));
        }
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, *delay, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
}

}  // namespace sc::pg
