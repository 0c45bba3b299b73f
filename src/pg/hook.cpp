// The ProcessUtility hook (safe_column.mode): the dispatcher.
//
// For an ALTER TABLE on an ordinary or partitioned table in a database where the extension is
// installed, gather the facts with the server's own predicates (the default cooked and planned as
// ALTER TABLE will, contain_volatile_functions, DomainHasConstraints, AlterTableGetLockLevel, the
// CHECK constraints that let SET NOT NULL skip its scan, the table's size), let the pure core decide
// (src/core/ddl_guard), then run as sent, warn, take the locks queue-safely first, refuse, or stage.
// The facts live in palloc'd C structs; the core's C++ objects live only inside core_* functions.
#include <climits>
#include <string>
#include <vector>

#include "core/ddl_guard.hpp"
#include "pg/add_column.hpp"
#include "pg/staged_constraints.hpp"
#include "pg/staged_serial.hpp"
#include "pg/guard.hpp"
#include "pg/db_lifecycle.hpp"
#include "pg/hook.hpp"
#include "pg/hook_facts.hpp"
#include "pg/index_hook.hpp"
#include "pg/jobs.hpp"
#include "pg/publications.hpp"
#include "pg/related_locks.hpp"
#include "pg/lock.hpp"
#include "pg/shmem.hpp"
#include "pg/subxact.hpp"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/heap.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/tablecmds.h"
#include "commands/tablespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "funcapi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_collate.h"
#include "parser/parse_coerce.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parse_type.h"
#include "parser/parser.h"
#include "postmaster/bgworker.h"
#include "utils/backend_status.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include <signal.h>
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
}

#include "pg/compat.hpp"

namespace sc::pg {

int ddl_mode = static_cast<int>(sc::ddl::Mode::guard);
int guard_min_size_kb = 10 * 1024;

namespace {

ProcessUtility_hook_type prev_process_utility = nullptr;

const struct config_enum_entry mode_options[] = {
    {"off", static_cast<int>(sc::ddl::Mode::off), false},
    {"warn", static_cast<int>(sc::ddl::Mode::warn), false},
    {"guard", static_cast<int>(sc::ddl::Mode::guard), false},
    {"stage", static_cast<int>(sc::ddl::Mode::stage), false},
    {nullptr, 0, false},
};

// ---------------------------------------------------------------------------------------------
// The hook.

enum class HookOutcome { pass, done };

// A restore: pg_dump's scripts and pg_restore set check_function_bodies = off in every session they
// run (and applications practically never do). Their ALTER TABLEs (primary keys, foreign keys and
// CHECKs added after the data is loaded, partitions attached) run as sent, in every mode: a restore
// has no application waiting on its tables, and a refusal would leave the restored database without
// its constraints (its own CREATE EXTENSION switches the hook on in the middle of the restore).
bool restoring() { return !check_function_bodies; }

// CREATE TABLE and CREATE FOREIGN TABLE (whose statement begins with a CreateStmt).
void guard_create_table(CreateStmt *cs) {
    auto mode = static_cast<sc::ddl::Mode>(ddl_mode);
    if (mode == sc::ddl::Mode::off || mode == sc::ddl::Mode::warn || in_safe_column_ddl || creating_extension ||
        IsBinaryUpgrade || restoring() || !IsNormalProcessingMode() || !extension_in_database())
        return;
    lock_parents_of_new_table(cs, mode);
}

HookOutcome stage(const CStatement *s) {
    for (int i = 0; i < s->ncmds; i++) {
        const CCommand &c = s->cmds[i];
        if (c.column_exists && c.if_not_exists) {
            ereport(NOTICE, (errcode(ERRCODE_DUPLICATE_COLUMN),
                             errmsg("column \"%s\" of relation \"%s\" already exists, skipping", c.column_name,
                                    get_rel_name(s->relid))));
            continue;
        }
        char *forecast = nullptr;
        InlineConstraints ic{c.check,       c.check_conname,  c.references,         c.fk_conname, c.check_no_inherit,
                             c.unique,      c.primary_key,    c.unique_conname,     c.nulls_not_distinct,
                             c.deferrable,  c.initdeferred};
        int64 job = c.identity ? stage_identity_column(s->relid, c.column_name, c.type, c.identity_always, &forecast, &ic)
                    : c.serial ? stage_serial_column(s->relid, c.column_name, c.type, c.sequence, &forecast, &ic)
                               : add_column_job(s->relid, c.column_name, c.type,
                                              c.default_expr_qualified ? pstrdup(c.default_expr_qualified) : nullptr,
                                              c.not_null, nullptr, &forecast, &ic);
        ereport(NOTICE,
                (errmsg("safe_column staged ADD COLUMN %s of %s as job %lld", c.column, s->table_name,
                        static_cast<long long>(job)),
                 errdetail("New rows get the column's default from now on; existing rows read NULL until the "
                           "background worker has filled them%s%s%s%s.%s%s%s",
                           c.identity ? " (numbered from a staging sequence; the column becomes an identity column "
                                        "at the end, its own sequence going on after those numbers)"
                           : c.serial ? psprintf(" (numbered from sequence %s, owned by the column)", c.sequence)
                                      : "",
                           c.not_null ? ", and NOT NULL is enforced once every row has a value" : "",
                           c.check || c.references ? "; its CHECK and REFERENCES constraints are added NOT VALID "
                                                     "then, and validated without blocking writes"
                                                   : "",
                           c.unique || c.primary_key ? "; then its index is built concurrently and attached as its "
                                                       "UNIQUE or PRIMARY KEY constraint"
                                                     : "",
                           forecast ? " Expected: " : "", forecast ? forecast : "", forecast ? "." : ""),
                 errhint("Wait for it with CALL safe_column_watch(%lld), or follow it in safe_column_progress.",
                         static_cast<long long>(job))));
    }
    return HookOutcome::done;
}


// Statements the hook leaves alone whatever they are: its own, an extension script's, pg_upgrade's,
// a restore's, and any before the server is up.
bool hook_stands_aside(sc::ddl::Mode mode) {
    return mode == sc::ddl::Mode::off || in_safe_column_ddl || creating_extension || IsBinaryUpgrade || restoring() ||
           !IsNormalProcessingMode();
}

// The text of this one statement of a query string that may hold several (for the safe statements
// the messages show), without the blanks around it.
const char *statement_text(PlannedStmt *pstmt, const char *query) {
    if (query == nullptr)
        return "";
    int from = pstmt->stmt_location > 0 ? pstmt->stmt_location : 0;
    int len = pstmt->stmt_len > 0 ? pstmt->stmt_len : static_cast<int>(strlen(query + from));
    while (len > 0 && isspace(static_cast<unsigned char>(query[from]))) {
        from++;
        len--;
    }
    while (len > 0 && isspace(static_cast<unsigned char>(query[from + len - 1])))
        len--;
    return pnstrdup(query + from, len);
}

// CREATE INDEX, DROP INDEX, REINDEX: see index_hook.cpp. Not the index statements PostgreSQL runs
// for another statement (CREATE TABLE's constraints: context PROCESS_UTILITY_SUBCOMMAND).
HookOutcome guard_index(PlannedStmt *pstmt, const char *query, ProcessUtilityContext context) {
    auto mode = static_cast<sc::ddl::Mode>(ddl_mode);
    if (hook_stands_aside(mode) || context == PROCESS_UTILITY_SUBCOMMAND || !extension_in_database())
        return HookOutcome::pass;
    return guard_index_statement(pstmt->utilityStmt, statement_text(pstmt, query), mode) ? HookOutcome::done
                                                                                          : HookOutcome::pass;
}

HookOutcome decide_and_act(PlannedStmt *pstmt, const char *query) {
    auto mode = static_cast<sc::ddl::Mode>(ddl_mode);
    if (hook_stands_aside(mode) || !IsA(pstmt->utilityStmt, AlterTableStmt))
        return HookOutcome::pass;
    auto *ats = castNode(AlterTableStmt, pstmt->utilityStmt);
    if (ats->objtype != OBJECT_TABLE || !extension_in_database())
        return HookOutcome::pass;
    CStatement *s = gather_statement(ats, true);
    // A table this role may not alter: PostgreSQL refuses it before taking any lock; so do we.
    if (s == nullptr || !compat::owns_relation(s->relid, GetUserId()))
        return HookOutcome::pass;
    // A table no other session can see (temporary, or created in this transaction) keeps nobody
    // waiting, whatever the statement does to it.
    if (invisible_to_others(s->relid)) {
        if (mode != sc::ddl::Mode::warn)
            lock_referenced_of_new_table(ats, s->relid, mode);
        return HookOutcome::pass;
    }

    // guard and stage take the statement's locks first, queue-safely; the facts gathered then are
    // current and the size exact. Statements that attach or detach partitions lock other tables too:
    // those locks are taken queue-safely, then PostgreSQL runs the statement.
    bool locked = false;
    if (mode != sc::ddl::Mode::warn) {
        if (attaches_or_detaches(ats)) {
            lock_partition_change(ats, s->relid, mode);
            return HookOutcome::pass;
        }
        LOCKMODE lockmode = AlterTableGetLockLevel(ats->cmds);
        char *what = psprintf("run ALTER TABLE (safe_column.mode = %s)", mode_name(mode));
        List *refs = referenced_tables(ats, s->relid);
        if (refs != NIL)
            what = psprintf("%s, which also locks %s (referenced by its foreign key%s)", what,
                            quoted_rel_names(refs, 0), list_length(refs) > 1 ? "s" : "");
        (void)lock_queue_safe(s->relid, lockmode, s->inh, what, refs, ShareRowExclusiveLock);
        locked = true;
    }
    if (!gather_commands(s, ats, query, locked))
        return HookOutcome::pass;
    measure(s, locked);
    if (needs_row_check(s))
        s->has_rows = table_has_rows(s, locked);

    CVerdict v = core_decide(s, mode);
    // A plain ADD COLUMN that runs as sent: the same word on publications as safe_add_column's (a staged
    // one gets it from safe_add_column itself).
    if (v.action != sc::ddl::Action::refuse && v.action != sc::ddl::Action::stage)
        for (int i = 0; i < s->ncmds; i++)
            if (s->cmds[i].kind == sc::ddl::Kind::add_column && !s->cmds[i].column_exists)
                check_publications(s->relid, s->cmds[i].column_name);
    switch (v.action) {
    case sc::ddl::Action::run:
    case sc::ddl::Action::run_guarded:
        return HookOutcome::pass;
    case sc::ddl::Action::warn:
        ereport(WARNING, (errmsg_internal("%s", v.message), errdetail_internal("%s", v.detail),
                          v.hint[0] ? errhint("%s", v.hint) : 0));
        return HookOutcome::pass;
    case sc::ddl::Action::refuse:
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg_internal("%s", v.message),
                        errdetail_internal("%s", v.detail), errhint("%s", v.hint)));
        break;
    case sc::ddl::Action::stage:
        // ALTER TABLE ONLY on a table with children: PostgreSQL refuses ADD COLUMN; let it say so.
        if (!s->inh && has_subclass(s->relid))
            return HookOutcome::pass;
        return stage(s);
    }
    return HookOutcome::pass;
}


void call_next(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree, ProcessUtilityContext context,
               ParamListInfo params, QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc) {
    if (prev_process_utility)
        prev_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
    else
        standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

// The statement tree is only read, never changed, so readOnlyTree needs no copy.
void process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree, ProcessUtilityContext context,
                     ParamListInfo params, QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc) {
    Node *stmt = pstmt->utilityStmt;
    if (IsA(stmt, DropdbStmt))
        cpp_entry("safe_column utility hook", [&] { hold_database_for(castNode(DropdbStmt, stmt)->dbname, true); });
    else if (IsA(stmt, DropStmt) && drops_this_extension(castNode(DropStmt, stmt)))
        cpp_entry("safe_column utility hook", [&] { drop_helper_constraints(); });
    else if (IsA(stmt, RenameStmt) && castNode(RenameStmt, stmt)->renameType == OBJECT_DATABASE)
        cpp_entry("safe_column utility hook", [&] { hold_database_for(castNode(RenameStmt, stmt)->subname, false); });
    // Most utility statements leave at once: one tag test.
    if (ddl_mode != static_cast<int>(sc::ddl::Mode::off) && !in_safe_column_ddl) {
        if (IsA(stmt, AlterTableStmt)) {
            HookOutcome outcome =
                cpp_entry("safe_column utility hook", [&] { return decide_and_act(pstmt, queryString); });
            if (outcome == HookOutcome::done)
                return;
        } else if (is_index_statement(stmt)) {
            HookOutcome outcome =
                cpp_entry("safe_column utility hook", [&] { return guard_index(pstmt, queryString, context); });
            if (outcome == HookOutcome::done)
                return;
        } else if ((IsA(stmt, CreateStmt) || IsA(stmt, CreateForeignTableStmt)) &&
                   reinterpret_cast<CreateStmt *>(stmt)->inhRelations != NIL) {
            cpp_entry("safe_column utility hook", [&] { guard_create_table(reinterpret_cast<CreateStmt *>(stmt)); });
        }
    }
    call_next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

}  // namespace

const char *mode_name(sc::ddl::Mode m) {
    for (const auto *o = mode_options; o->name; o++)
        if (o->val == static_cast<int>(m))
            return o->name;
    return "?";
}

void hook_init() {
    DefineCustomEnumVariable(
        "safe_column.mode", "What safe_column does with ALTER TABLE and index statements.",
        "off: nothing. warn: run them as sent, with a WARNING for those that rewrite, scan or build an index under "
        "a strong lock. guard: take every ALTER TABLE's lock queue-safely, and refuse those that would rewrite, scan "
        "or build an index on a table of safe_column.guard_min_size or more; the same for CREATE INDEX, REINDEX and "
        "DROP INDEX without CONCURRENTLY. stage: as guard, but run ADD COLUMN statements that safe_add_column can do "
        "as a staged job, and a named CREATE INDEX as a job that builds it CONCURRENTLY.",
        &ddl_mode, static_cast<int>(sc::ddl::Mode::guard), mode_options, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "safe_column.guard_min_size", "Table size from which safe_column.mode refuses or stages heavy ALTER TABLEs.",
        "Smaller tables are altered as sent (their lock still taken queue-safely): their rewrite or scan is short.",
        &guard_min_size_kb, 10 * 1024, 0, INT_MAX, PGC_USERSET, GUC_UNIT_KB, nullptr, nullptr, nullptr);
    prev_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = process_utility;
    register_lifecycle_callbacks();
}

}  // namespace sc::pg
