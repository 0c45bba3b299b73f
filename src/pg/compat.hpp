// Every difference between the PostgreSQL versions safe_column builds against (15 to 19), in one
// place. Each shim names the PostgreSQL change behind it. Code elsewhere calls these and never tests
// PG_VERSION_NUM itself, unless behaviour (not an API) differs, and then a comment there says why.
// Include after pg_includes.hpp.
#pragma once

extern "C" {
#include "access/htup_details.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_database.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parse_type.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/regproc.h"
#include "utils/typcache.h"
}

#define SC_PG16_GE (PG_VERSION_NUM >= 160000)
#define SC_PG17_GE (PG_VERSION_NUM >= 170000)
#define SC_PG18_GE (PG_VERSION_NUM >= 180000)
#define SC_PG19_GE (PG_VERSION_NUM >= 190000)

// 15 (shmem_request_hook): shared memory is requested from that hook; before, from _PG_init itself.
#define SC_HAS_SHMEM_REQUEST_HOOK (PG_VERSION_NUM >= 150000)

namespace sc::pg::compat {

// 16 (typed tree walkers): raw_expression_tree_walker takes bool (*)(Node *, void *); before 16 it is
// declared bool (*)(), which C++ reaches by a cast through void (*)(), the generic function type.
inline bool raw_tree_walk(Node *node, bool (*walker)(Node *, void *), void *arg) {
#if SC_PG16_GE
    return raw_expression_tree_walker(node, walker, arg);
#else
    using Walker = bool (*)();
    return raw_expression_tree_walker(node, reinterpret_cast<Walker>(reinterpret_cast<void (*)()>(walker)), arg);
#endif
}

// 16 ("Generalize ownership checks"): object_ownercheck replaces pg_class_ownercheck and the other per-class checks.
inline bool owns_relation(Oid relid, Oid role) {
#if SC_PG16_GE
    return object_ownercheck(RelationRelationId, relid, role);
#else
    return pg_class_ownercheck(relid, role);
#endif
}

// 17 (the MAINTAIN privilege and pg_maintain): a role granted MAINTAIN on a table may REINDEX it too.
inline bool may_reindex(Oid relid, Oid role) {
#if SC_PG17_GE
    return owns_relation(relid, role) || pg_class_aclcheck(relid, role, ACL_MAINTAIN) == ACLCHECK_OK;
#else
    return owns_relation(relid, role);
#endif
}

inline bool owns_database(Oid dboid, Oid role) {
#if SC_PG16_GE
    return object_ownercheck(DatabaseRelationId, dboid, role);
#else
    return pg_database_ownercheck(dboid, role);
#endif
}

// 16 (soft error reporting, ErrorSaveContext): parseTypeString's missing_ok became a Node *escontext; a null
// escontext raises the error, as missing_ok = false did.
inline void parse_type_string(const char *text, Oid *typid, int32 *typmod) {
#if SC_PG16_GE
    parseTypeString(text, typid, typmod, nullptr);
#else
    parseTypeString(text, typid, typmod, false);
#endif
}

// 16 (soft error reporting): stringToQualifiedNameList takes an escontext; NULL: errors are thrown.
inline List *qualified_name_list(const char *text) {
#if SC_PG16_GE
    return stringToQualifiedNameList(text, nullptr);
#else
    return stringToQualifiedNameList(text);
#endif
}

// 19 (table_beginscan takes caller flags, a bitmask of ScanOptions): none here.
inline TableScanDesc begin_seqscan(Relation rel, Snapshot snapshot) {
#if SC_PG19_GE
    return table_beginscan(rel, snapshot, 0, nullptr, 0);
#else
    return table_beginscan(rel, snapshot, 0, nullptr);
#endif
}

// 17 (BackendId replaced by ProcNumber): the local transaction id moved into PGPROC.vxid.
inline LocalTransactionId my_local_xid() {
#if SC_PG17_GE
    return MyProc->vxid.lxid;
#else
    return MyProc->lxid;
#endif
}

// 17 (CheckRelationOidLockedByMe added): LockHeldByMe takes orstronger; false asks for exactly this mode, as before.
inline bool lock_held_by_me(const LOCKTAG *tag, LOCKMODE mode) {
#if SC_PG17_GE
    return LockHeldByMe(tag, mode, false);
#else
    return LockHeldByMe(tag, mode);
#endif
}

// 17 (backend_status.c functions renamed by what they index): pgstat_fetch_stat_local_beentry renamed pgstat_get_local_beentry_by_index
// (same 1-based index over the local snapshot of backend entries).
inline LocalPgBackendStatus *local_backend_entry(int index) {
#if SC_PG17_GE
    return pgstat_get_local_beentry_by_index(index);
#else
    return pgstat_fetch_stat_local_beentry(index);
#endif
}

// 18 (log_lock_failure): LockAcquireExtended takes logLockFailure; false, as a failure here is expected.
inline LockAcquireResult lock_acquire_no_wait(const LOCKTAG *tag, LOCKMODE mode, bool session) {
#if SC_PG18_GE
    return LockAcquireExtended(tag, mode, session, true, false, nullptr, false);
#else
    return LockAcquireExtended(tag, mode, session, true, false, nullptr);
#endif
}

// 19 (volatile domain constraints reported): DomainHasConstraints also says whether one is volatile.
inline bool domain_has_constraints(Oid typid) {
#if SC_PG19_GE
    bool has_volatile = false;
    return DomainHasConstraints(typid, &has_volatile);
#else
    return DomainHasConstraints(typid);
#endif
}

// 18 (NOT NULL constraints as pg_constraint rows): NOT NULL can be added NOT VALID and validated later,
// as a CHECK can, and then stands on its own: the job needs no helper CHECK and no SET NOT NULL.
constexpr bool not_null_not_valid = SC_PG18_GE;

// Whether the column has a NOT NULL that every row satisfies. From 18, attnotnull says only that a
// NOT NULL constraint exists, possibly NOT VALID; its pg_constraint row says whether it is validated.
inline bool not_null_validated(Oid relid, AttrNumber attnum, bool attnotnull) {
#if SC_PG18_GE
    if (!attnotnull)
        return false;
    HeapTuple tup = findNotNullConstraintAttnum(relid, attnum);
    if (!HeapTupleIsValid(tup))
        return true;
    bool valid = reinterpret_cast<Form_pg_constraint>(GETSTRUCT(tup))->convalidated;
    heap_freetuple(tup);
    return valid;
#else
    (void)relid;
    (void)attnum;
    return attnotnull;
#endif
}

// 18 (virtual generated columns, the default kind): GENERATED ALWAYS AS (...) without STORED is computed
// when read; adding one changes the catalog only. Before 18 every generated column is stored.
inline bool generated_stored(const Constraint *con) {
#if SC_PG18_GE
    return con->generated_kind == ATTRIBUTE_GENERATED_STORED;
#else
    (void)con;
    return true;
#endif
}

}  // namespace sc::pg::compat
