// A column's own CHECK and REFERENCES constraints, staged with it (safe_add_column's check_expr and
// references_clause, or the inline constraints of an ADD COLUMN that stage mode turns into a job).
//
// At creation, in the caller's transaction and with the caller's rights, each constraint is added NOT
// VALID exactly as PostgreSQL would add it (so every error is PostgreSQL's own, before anything is
// committed), its definition is read back with pg_get_constraintdef under a pinned search_path (every
// name qualified), and it is dropped again. The job records that text (safe_column_job_constraint);
// the worker adds it again once the column is filled (phase add_check) and validates it (validate).
#pragma once

#include "pg/pg_includes.hpp"

extern "C" {
#include "nodes/pg_list.h"
}

namespace sc::pg {

// What the caller asked for: the expression and the referenced table as written, with their names when
// given (NULL: the name PostgreSQL would choose).
struct InlineConstraints {
    const char *check_expr;
    const char *check_name;
    const char *references_clause;
    const char *fk_name;
    bool check_no_inherit;  // CHECK (...) NO INHERIT (stage mode)
    // UNIQUE / PRIMARY KEY of the column alone (0.4): its index is built concurrently by the worker.
    bool unique;
    bool primary_key;
    const char *index_name;   // written after CONSTRAINT (NULL: the name PostgreSQL would choose)
    bool nulls_not_distinct;  // UNIQUE NULLS NOT DISTINCT (stage mode)
    bool deferrable, initdeferred;
    // An identity column (0.4): numbered from identity_sequence (qualified, quoted), made an identity at the end.
    bool identity;
    bool identity_always;
    const char *identity_sequence;
};

struct StagedConstraint {
    char *name;        // unquoted (of a UNIQUE / PRIMARY KEY: its index's too)
    char contype;      // 'c' CHECK, 'f' FOREIGN KEY, 'u' UNIQUE, 'p' PRIMARY KEY, 'i' identity,
                       // 'x' the index of a staged CREATE INDEX (definition: the statement as sent)
    char *definition;  // pg_get_constraintdef's text, ending in NOT VALID; 'u', 'p': "UNIQUE USING INDEX i"
    char *index_sql;   // 'u', 'p': the CREATE UNIQUE INDEX CONCURRENTLY that builds the index; else NULL
    Oid ref_relid;     // FOREIGN KEY: the referenced table; identity: the staging sequence; else InvalidOid
    char *requested;   // check_expr or references_clause as the caller gave it
};

// Tries the column's constraints on relid (locked ACCESS EXCLUSIVE by the caller, the column added),
// taking the referenced table's lock queue-safely first. A List of StagedConstraint *, NIL when none.
// table: qualified and quoted; colname: unquoted. SPI connected.
List *try_staged_constraints(Oid relid, const char *table, const char *colname, const InlineConstraints *ic);

// The tables the REFERENCES clause of ic names (other than relid; NIL when none or missing: PostgreSQL
// reports those): the caller takes their SHARE ROW EXCLUSIVE lock in the same queue-safe attempts as its
// ACCESS EXCLUSIVE on relid. Holding that one first, it could make a single attempt only (a long writer
// on a referenced table would fail the call). Bad text is refused here, before any lock.
List *inline_referenced_tables(Oid relid, const char *table, const char *colname, const InlineConstraints *ic);

// Whether the extension's schema has the table of staged constraints (0.3 and later), and its
// index_sql (0.4 and later). SPI connected.
bool staged_constraints_supported();
bool staged_index_supported();
// A UNIQUE / PRIMARY KEY (built as an index by the worker), not a CHECK / FOREIGN KEY.
bool is_index_constraint(const StagedConstraint *sc);
// Whether staged has one of the kinds in contypes ("cf": CHECK / FOREIGN KEY, "up": an index, "i").
bool has_staged_kind(List *staged, const char *contypes);
// The job's staged one of a kind in contypes, or NULL. SPI connected.
StagedConstraint *staged_of_kind(int64 job_id, const char *contypes);
// The index the job builds: a column's UNIQUE / PRIMARY KEY, or a staged CREATE INDEX ('x').
inline StagedConstraint *staged_index_of(int64 job_id) { return staged_of_kind(job_id, "upx"); }
// Records them for the job (as the extension's owner: within enter_owner_context). SPI connected.
void record_staged_constraints(int64 job_id, List *staged);
// The job's staged constraints (NIL when none, or before 0.3). SPI connected.
List *load_staged_constraints(int64 job_id);

// What differs between the constraints a job staged (job_id) and the ones asked for again: sentences
// for a DETAIL, each beginning with a space, or "" (a re-run of safe_add_column compares them as it
// compares backfill_expr: as written). SPI connected.
char *staged_constraints_differ(int64 job_id, const InlineConstraints *ic);

// A row of relid that violates its CHECK constraint conname, by its ctid ("row (12,3) of orders", or of
// a child table, qualified), or NULL (no such row, or no such CHECK). For the error of a failed VALIDATE, which names no row. SPI connected, as the
// role that validated it (the expression may call the owner's functions).
char *check_violating_row(Oid relid, const char *conname);

// Whether relid has a constraint of that name, and whether it is validated. SPI connected.
bool constraint_state(Oid relid, const char *name, bool *validated, bool *native = nullptr);

}  // namespace sc::pg
