// The decision table for ALTER TABLE (assess: what each subcommand does; safe_way: the safe statements;
// decide: the verdict per mode and size; plan: the steps safe_column_plan shows). Longer than 600 lines
// on purpose: the four read the same table and share its helpers, and a reviewer checks them together
// against PostgreSQL's ATExec* functions.
#include "ddl_guard.hpp"

#include <boost/format.hpp>
#include <cmath>

#include "sql_text.hpp"

namespace sc::ddl {

namespace {

// Rates measured on the reference machine (2 cores, a 284 MB table with 43 MB of indexes, 2M rows):
// a volatile-default ADD COLUMN rewrote table and indexes at 35-68 MB/s, a unique index on a text
// column was built at 140 MB/s of table, a CHECK or SET NOT NULL scan read a cached table at over
// 2 GB/s. The estimates take round figures on the slow side: a table not in cache reads slower.
constexpr double rewrite_bytes_per_s = 50e6;
constexpr double index_bytes_per_s = 140e6;
constexpr double scan_bytes_per_s = 500e6;

constexpr int share_update_exclusive = 4;
constexpr int share_row_exclusive = 6;
constexpr int access_exclusive = 8;

std::string regclass_literal(const Statement &s) { return sql::literal(s.table); }

// The column's CHECK and REFERENCES that safe_add_column can stage itself: known text, no name written
// (it takes none: a named one is left to its own steps).
bool call_stages_check(const Command &c) { return c.check && *c.check != "..." && !c.check_named; }
bool call_stages_references(const Command &c) { return c.references && !c.fk_named; }
// Its UNIQUE / PRIMARY KEY: a b-tree on the column alone, built concurrently by the worker (not on a
// partitioned table, which has no concurrent build; without INCLUDE, WITH or a tablespace). Stage mode
// takes a name written after CONSTRAINT and DEFERRABLE; safe_add_column neither.
bool index_stageable(const Statement &s, const Command &c) {
    return (c.unique || c.primary_key) && !c.index_options && !s.partitioned;
}
bool call_stages_index(const Statement &s, const Command &c) {
    return index_stageable(s, c) && !c.unique_named && c.unique_attributes.empty();
}

std::string add_column_call(const Statement &s, const Command &c, bool with_not_null, bool with_constraints = false) {
    std::string text = (boost::format("SELECT safe_add_column(%1%, %2%, %3%") % regclass_literal(s) %
                        sql::literal(c.column_name) % sql::literal(c.type))
                           .str();
    if (c.default_expr)
        text += ", default_expr => " + sql::literal(*c.default_expr);
    if (with_not_null && c.not_null)
        text += ", not_null => true";
    if (with_constraints && call_stages_check(c))
        text += ", check_expr => " + sql::literal(*c.check);
    if (with_constraints && call_stages_references(c))
        text += ", references_clause => " + sql::literal(*c.references);
    if (with_constraints && call_stages_index(s, c))
        text += c.primary_key ? ", primary_key => true" : ", unique_key => true";
    return text + ")";
}

std::string check_not_valid(const Statement &s, const std::string &name, const std::string &expr) {
    return sql::check_not_valid(s.table, name, expr);
}

PlanStep step(std::string sql, int lockmode, std::string note) {
    PlanStep p;
    p.approach = "safe_column";
    p.sql = std::move(sql);
    p.lockmode = lockmode;
    p.seconds = 0.0;
    p.note = std::move(note);
    return p;
}

void add_validate(std::vector<PlanStep> &steps, const Statement &s, const std::string &name, bool fk) {
    PlanStep v = step(sql::validate_constraint(s.table, name), share_update_exclusive,
                      fk ? "checks every row while reads and writes go on (the referenced table gets ROW SHARE)"
                         : "checks every row while reads and writes go on");
    v.scan = true;
    v.seconds = static_cast<double>(s.table_bytes) / scan_bytes_per_s;
    steps.push_back(v);
}

// What the worker does with the constraints safe_add_column staged: added NOT VALID once the column is
// filled, then validated while reads and writes go on.
void add_staged_validate(std::vector<PlanStep> &steps, const Statement &s, const Command &c) {
    std::string what = call_stages_check(c) && call_stages_references(c) ? "its CHECK and FOREIGN KEY"
                       : call_stages_check(c)                            ? "its CHECK"
                                                                         : "its FOREIGN KEY";
    PlanStep v = step("", share_update_exclusive,
                      "background worker, once the column is filled: adds " + what +
                          " NOT VALID (brief), then validates it while reads and writes go on");
    v.scan = true;
    v.seconds = static_cast<double>(s.table_bytes) / scan_bytes_per_s;
    steps.push_back(v);
}

void add_unique_steps(std::vector<PlanStep> &steps, const Statement &s, const std::string &name,
                      const std::string &keys, bool primary, const std::string &attributes) {
    PlanStep idx = step((boost::format("CREATE UNIQUE INDEX CONCURRENTLY %1% ON %2% %3%") % name % s.table % keys).str(),
                        share_update_exclusive, "builds the index while reads and writes go on");
    idx.index_build = true;
    idx.seconds = 2.0 * static_cast<double>(s.table_bytes) / index_bytes_per_s;  // two passes
    steps.push_back(idx);
    steps.push_back(step((boost::format("ALTER TABLE %1% ADD CONSTRAINT %2% %3% USING INDEX %2%%4%") % s.table % name %
                          (primary ? "PRIMARY KEY" : "UNIQUE") % attributes)
                             .str(),
                         access_exclusive,
                         primary ? "brief: the index exists; the key columns must already be NOT NULL"
                                 : "brief: the index exists"));
}

// What the worker does with the UNIQUE / PRIMARY KEY safe_add_column staged: the index built
// concurrently once the column is filled (and NOT NULL), then attached as the constraint.
void add_staged_index(std::vector<PlanStep> &steps, const Statement &s, const Command &c) {
    PlanStep idx = step("", share_update_exclusive,
                        "background worker, once the column is filled" +
                            std::string(c.primary_key ? " and NOT NULL" : "") + ": CREATE UNIQUE INDEX CONCURRENTLY " +
                            c.unique_name + " while reads and writes go on, then ADD CONSTRAINT " + c.unique_name +
                            (c.primary_key ? " PRIMARY KEY" : " UNIQUE") + " USING INDEX (brief)");
    idx.index_build = true;
    idx.seconds = 2.0 * static_cast<double>(s.table_bytes) / index_bytes_per_s;  // two passes
    steps.push_back(idx);
}

void add_fk_steps(std::vector<PlanStep> &steps, const Statement &s, const std::string &name, const std::string &keys,
                  const std::string &target) {
    steps.push_back(step((boost::format("ALTER TABLE %1% ADD CONSTRAINT %2% FOREIGN KEY %3% REFERENCES %4% NOT VALID") %
                          s.table % name % keys % target)
                             .str(),
                         share_row_exclusive, "brief: new rows are checked from now on"));
    add_validate(steps, s, name, true);
}

void add_not_null_steps(std::vector<PlanStep> &steps, const Statement &s, const std::string &column,
                        const std::string &name) {
    if (s.not_null_not_valid) {
        steps.push_back(step(sql::add_not_null_not_valid(s.table, name, column), access_exclusive,
                             "brief: new and updated rows are checked from now on"));
        add_validate(steps, s, name, false);
        return;
    }
    steps.push_back(step(sql::add_not_null_check(s.table, name, column), access_exclusive,
                         "brief: new and updated rows are checked from now on"));
    add_validate(steps, s, name, false);
    steps.push_back(step(sql::set_not_null(s.table, column), access_exclusive,
                         "brief: the valid CHECK proves the column has no NULL, no scan"));
    steps.push_back(step(sql::drop_constraint(s.table, name), access_exclusive, "brief"));
}

bool needs_backfill(const Command &c) {
    return c.default_expr && c.default_volatile && !c.serial && !c.identity && !c.generated;
}

}  // namespace

std::string join_sql(const std::vector<PlanStep> &steps) {
    std::string out;
    for (const PlanStep &p : steps) {
        if (p.sql.empty())
            continue;
        if (!out.empty())
            out += " ";
        out += p.sql + ";";
    }
    return out;
}

std::string capitalized(std::string s) {
    if (!s.empty() && s[0] >= 'a' && s[0] <= 'z')
        s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
}

double index_build_seconds(std::int64_t table_bytes) { return static_cast<double>(table_bytes) / index_bytes_per_s; }

std::string lock_mode_name(int lockmode) {
    static const char *names[] = {"no",        "ACCESS SHARE",        "ROW SHARE", "ROW EXCLUSIVE",
                                  "SHARE UPDATE EXCLUSIVE", "SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE",
                                  "ACCESS EXCLUSIVE"};
    if (lockmode < 0 || lockmode > 8)
        return "unknown";
    return names[lockmode];
}

std::string pretty_bytes(std::int64_t bytes) {
    const char *units[] = {"bytes", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024.0 * 10 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        return (boost::format("%1% bytes") % bytes).str();
    return (boost::format("%1% %2%") % static_cast<long long>(std::llround(v)) % units[u]).str();
}

std::string pretty_seconds(double s) {
    if (s < 1.0)
        return "under a second";
    if (s < 120.0)
        return (boost::format("about %1% s") % static_cast<long long>(std::llround(s))).str();
    if (s < 7200.0)
        return (boost::format("about %1% min") % static_cast<long long>(std::llround(s / 60.0))).str();
    return (boost::format("about %1% h") % static_cast<long long>(std::llround(s / 3600.0))).str();
}

namespace {

// Why ADD COLUMN c fills every row when it runs (the reason of its rewrite), or "" when it does not.
std::string rewrite_reason(const Command &c) {
    if (c.identity)
        return "an identity column is filled for every row";
    if (c.generated)
        return "a stored generated column is computed for every row";
    if (c.serial)
        return "serial is an integer column whose default, nextval(), is volatile";
    if (c.domain_constraints)
        return "its type is a domain with constraints, which are checked against every row";
    if (needs_backfill(c))
        return "its default " + *c.default_expr + " is volatile and computed for every row";
    return "";
}

// "a, b, and c".
std::string joined_clauses(const std::vector<std::string> &parts) {
    std::string text;
    for (std::size_t i = 0; i < parts.size(); i++) {
        if (i == 0)
            text = parts[i];
        else
            text += (i + 1 == parts.size() ? ", and " : ", ") + parts[i];
    }
    return text;
}

// ADD COLUMN: catalog only, or what makes it touch every row (a rewrite, a scan, an index build).
Effect assess_add_column(const Statement &s, const Command &c, Effect e) {
    const std::string lock = lock_mode_name(c.lockmode);
    const double table = static_cast<double>(s.table_bytes);
    const double all = table + static_cast<double>(s.index_bytes);
    const std::string name = "ADD COLUMN " + c.column;
    if (c.column_exists) {
        e.what = name + " does nothing: the column exists and IF NOT EXISTS was given.";
        return e;
    }
    std::string why = rewrite_reason(c);
    std::vector<std::string> parts;
    if (!why.empty()) {
        e.rewrite = true;
        e.backfill = needs_backfill(c) && !c.domain_constraints;
        parts.push_back((boost::format("%1% rewrites the whole table and its indexes (%2%) under %3% lock, "
                                       "because %4%") %
                         name % pretty_bytes(s.table_bytes + s.index_bytes) % lock % why)
                            .str());
        e.seconds += all / rewrite_bytes_per_s;
    } else if (c.not_null && !c.default_expr && s.has_rows) {
        e.fails = true;
        e.scan = true;
        parts.push_back((boost::format("%1% NOT NULL without a default scans the table under %2% lock and then "
                                       "fails, because its existing rows would be NULL") %
                         name % lock)
                            .str());
        e.seconds += table / scan_bytes_per_s;
    }
    if (c.check) {
        e.scan = true;
        parts.push_back((boost::format("its CHECK constraint is checked against every row under %1% lock") % lock).str());
        if (!e.rewrite)
            e.seconds += table / scan_bytes_per_s;
    }
    if (c.unique || c.primary_key) {
        e.index_build = true;
        parts.push_back((boost::format("its %1% constraint builds an index under %2% lock") %
                         (c.primary_key ? "PRIMARY KEY" : "UNIQUE") % lock)
                            .str());
        e.seconds += table / index_bytes_per_s;
    }
    if (c.references && c.default_expr) {
        e.scan = true;
        parts.push_back("its foreign key is checked against every row, because the column has a default");
        e.seconds += table / scan_bytes_per_s;
    }
    if (parts.empty()) {
        e.what = name + " changes the catalog only (" + lock + " lock, held briefly).";
        return e;
    }
    std::string text = joined_clauses(parts);
    if (text.rfind(name, 0) != 0)
        text = name + ": " + text;
    e.what = text + ".";
    return e;
}

// The constraint subcommands: SET NOT NULL, CHECK, FOREIGN KEY, UNIQUE, PRIMARY KEY (scans and builds).
Effect assess_constraint(const Statement &s, const Command &c, Effect e) {
    const std::string lock = lock_mode_name(c.lockmode);
    const double table = static_cast<double>(s.table_bytes);
    std::string name;
    switch (c.kind) {
    case Kind::set_not_null:
        name = c.as_constraint ? "ADD CONSTRAINT " + c.constraint + " NOT NULL " + c.column
                               : "ALTER COLUMN " + c.column + " SET NOT NULL";
        if (c.already_not_null) {
            e.what = name + " does nothing: the column is NOT NULL already.";
        } else if (c.as_constraint && c.not_valid) {
            e.what = name + " NOT VALID changes the catalog only; existing rows are not checked.";
        } else if (c.implied_by_check) {
            e.what = name + " skips its scan: a valid CHECK constraint proves the column has no NULL.";
        } else {
            e.scan = true;
            e.seconds = table / scan_bytes_per_s;
            e.what = (boost::format("%1% scans every row under %2% lock.") % name % lock).str();
        }
        return e;
    case Kind::add_check:
        name = "ADD CONSTRAINT " + c.constraint + " CHECK";
        if (c.not_valid) {
            e.what = name + " NOT VALID changes the catalog only; existing rows are not checked.";
        } else {
            e.scan = true;
            e.seconds = table / scan_bytes_per_s;
            e.what = (boost::format("%1% checks every row under %2% lock.") % name % lock).str();
        }
        return e;
    case Kind::add_foreign_key:
        name = "ADD CONSTRAINT " + c.constraint + " FOREIGN KEY";
        if (c.not_valid) {
            e.what = (boost::format("%1% NOT VALID changes the catalog only (%2% lock on both tables, held briefly).") %
                      name % lock)
                         .str();
        } else {
            e.scan = true;
            e.seconds = table / scan_bytes_per_s;
            e.what = (boost::format("%1% checks every row under %2% lock on both tables, which blocks their writes.") %
                      name % lock)
                         .str();
        }
        return e;
    case Kind::add_unique:
    case Kind::add_primary_key:
        name = "ADD CONSTRAINT " + c.constraint + (c.kind == Kind::add_unique ? " UNIQUE" : " PRIMARY KEY");
        if (c.using_index) {
            e.what = name + " USING INDEX changes the catalog only.";
        } else {
            e.index_build = true;
            e.seconds = table / index_bytes_per_s;
            e.what = (boost::format("%1% builds an index under %2% lock.") % name % lock).str();
        }
        return e;
    default:
        return e;
    }
}

// The subcommands that copy or convert the table: TYPE, SET TABLESPACE, SET LOGGED / UNLOGGED, and the
// exclusion constraint's index build.
Effect assess_storage(const Statement &s, const Command &c, Effect e) {
    const std::string lock = lock_mode_name(c.lockmode);
    const double table = static_cast<double>(s.table_bytes);
    const double all = table + static_cast<double>(s.index_bytes);
    std::string name;
    switch (c.kind) {
    case Kind::alter_type:
        name = "ALTER COLUMN " + c.column + " TYPE " + c.type;
        if (c.type_rewrite) {
            e.rewrite = true;
            e.seconds = all / rewrite_bytes_per_s;
            e.what = (boost::format("%1% rewrites the whole table and its indexes (%2%) under %3% lock, because "
                                    "every stored value is converted.") %
                      name % pretty_bytes(s.table_bytes + s.index_bytes) % lock)
                         .str();
        } else {
            e.what = (boost::format("%1% keeps the stored values as they are (no rewrite; %2% lock, held briefly).") %
                      name % lock)
                         .str();
        }
        return e;
    case Kind::set_tablespace:
        e.rewrite = true;
        e.seconds = table / rewrite_bytes_per_s;
        e.what = (boost::format("SET TABLESPACE %1% copies the whole table (%2%) to the new tablespace under %3% "
                                "lock.") %
                  c.target % pretty_bytes(s.table_bytes) % lock)
                     .str();
        return e;
    case Kind::set_persistence:
        e.rewrite = true;
        e.seconds = all / rewrite_bytes_per_s;
        e.what = (boost::format("SET %1% rewrites the whole table and its indexes (%2%) under %3% lock%4%.") %
                  c.target % pretty_bytes(s.table_bytes + s.index_bytes) % lock %
                  (c.target == "LOGGED" ? ", writing all of it to the WAL (and to every replica)" : ""))
                     .str();
        return e;
    case Kind::add_exclusion:
        e.index_build = true;
        e.seconds = table / index_bytes_per_s;
        e.what = (boost::format("ADD CONSTRAINT %1% EXCLUDE builds its index under %2% lock.") % c.constraint % lock)
                     .str();
        return e;
    default:
        return e;
    }
}

}  // namespace

// The decision table for every kind of subcommand, one function per family (each reviewed against
// PostgreSQL's ATExec* functions).
Effect assess(const Statement &s, const Command &c) {
    Effect e;
    e.lockmode = c.lockmode;
    switch (c.kind) {
    case Kind::add_column:
        return assess_add_column(s, c, e);
    case Kind::set_not_null:
    case Kind::add_check:
    case Kind::add_foreign_key:
    case Kind::add_unique:
    case Kind::add_primary_key:
        return assess_constraint(s, c, e);
    case Kind::alter_type:
    case Kind::set_tablespace:
    case Kind::set_persistence:
    case Kind::add_exclusion:
        return assess_storage(s, c, e);
    case Kind::other:
        e.what = (boost::format("A subcommand safe_column does not classify takes %1% lock.") %
                  lock_mode_name(c.lockmode))
                     .str();
        return e;
    }
    return e;
}

namespace {

// Identity and serial: a sequence of the column's type and a nextval() default, the existing rows
// numbered by the worker, then the column's own constraints as their own steps. A serial column is
// stageable: the steps are what PostgreSQL's serial makes (the sequence, owned by the column, as its
// default, NOT NULL). So is an identity column without sequence options: stage mode numbers it from a
// staging sequence, then makes it an identity column whose sequence goes on after those values.
void sequence_way(const Statement &s, const Command &c, SafeWay &w) {
    std::vector<PlanStep> &steps = w.steps;
    steps.push_back(step("CREATE SEQUENCE " + c.sequence + " AS " + c.type, 0, "a new, empty sequence"));
    Command plain = c;
    plain.type = c.type;
    plain.default_expr = "nextval(" + sql::literal(c.sequence) + "::regclass)";
    plain.not_null = true;
    PlanStep add = step(add_column_call(s, plain, true), access_exclusive,
                        "brief, queue-safe: the column and its default for new rows; existing rows are "
                        "numbered by the worker in the background");
    steps.push_back(add);
    steps.push_back(step((boost::format("ALTER SEQUENCE %1% OWNED BY %2%.%3%") % c.sequence % s.table % c.column)
                             .str(),
                         0, "the sequence goes with the column"));
    if (c.identity)
        w.advice = c.identity_options
                       ? "An identity column with sequence options has no staged form; a column with a sequence "
                         "default numbers rows the same way."
                       : "Stage mode (SET safe_column.mode = stage) adds it completely: the column numbered from a "
                         "staging sequence, then made an identity column whose own sequence goes on after the "
                         "numbered rows.";
    if (c.check) {
        steps.push_back(step(check_not_valid(s, c.check_name, *c.check), access_exclusive,
                             "brief: new and updated rows are checked from now on"));
        add_validate(steps, s, c.check_name, false);
    }
    if (c.references)
        add_fk_steps(steps, s, c.fk_name, "(" + c.column + ")", *c.references);
    if (c.unique || c.primary_key)
        add_unique_steps(steps, s, c.unique_name, "(" + c.column + ")", c.primary_key, c.unique_attributes);
    // A serial with its own UNIQUE / PRIMARY KEY (bigserial PRIMARY KEY): the index is the job's last step.
    w.stageable = (c.serial || (c.identity && !c.identity_options)) && !c.check && !c.references &&
                  (!(c.unique || c.primary_key) || index_stageable(s, c));
}

// ADD COLUMN the safe way: safe_add_column (with its backfill) or the plain column, then each inline
// constraint as its own queue-safe steps; advice where there is no staged equivalent.
void add_column_way(const Statement &s, const Command &c, const Effect &e, SafeWay &w) {
    std::vector<PlanStep> &steps = w.steps;
    if (c.identity || c.serial) {
        sequence_way(s, c, w);
        return;
    }
    if (c.generated) {
        w.advice = "A stored generated column has no staged equivalent. Add a plain column with "
                   "safe_add_column(..., backfill_expr => 'the generation expression') and keep it current "
                   "with a trigger, or compute the value in a view.";
        return;
    }
    if (c.domain_constraints) {
        w.advice = "Add the column with the domain's base type through safe_add_column, then add the domain's "
                   "conditions as a CHECK constraint NOT VALID and validate it with ALTER TABLE ... VALIDATE "
                   "CONSTRAINT.";
        return;
    }
    if (e.fails) {
        Command filled = c;
        filled.default_expr.reset();
        std::string call = add_column_call(s, filled, false);
        call.insert(call.size() - 1, ", backfill_expr => 'the value for existing rows', not_null => true");
        steps.push_back(step(call, access_exclusive,
                             "brief, queue-safe; the worker fills existing rows, then enforces NOT NULL"));
        w.advice = "Existing rows need a value: give it as backfill_expr (or a default as default_expr).";
        return;
    }
    // A CHECK and a REFERENCES are staged with the column (added NOT VALID once it is filled, validated
    // by the worker), and a UNIQUE or PRIMARY KEY (its index built concurrently by the worker), when
    // safe_add_column can take them (call_stages_*).
    bool staged_index = call_stages_index(s, c);
    bool unstaged = ((c.unique || c.primary_key) && !index_stageable(s, c)) || (c.check && *c.check == "...");
    bool staged_cons = call_stages_check(c) || call_stages_references(c);
    if (needs_backfill(c)) {
        steps.push_back(step(add_column_call(s, c, true, true), access_exclusive,
                             "brief, queue-safe: the column, nullable, with its default for new rows"));
        PlanStep fill = step("", 3,
                             !c.not_null ? "background worker: fills existing rows in short batches"
                             : s.not_null_not_valid
                                 ? "background worker: fills existing rows in short batches, then "
                                   "enforces NOT NULL with NOT NULL NOT VALID, VALIDATE"
                                 : "background worker: fills existing rows in short batches, then "
                                   "enforces NOT NULL with CHECK NOT VALID, VALIDATE, SET NOT NULL");
        fill.seconds = c.forecast_seconds;
        if (!c.forecast.empty())
            fill.note += "; expected: " + c.forecast;
        steps.push_back(fill);
        w.stageable = !unstaged;
    } else if (staged_cons || staged_index) {
        steps.push_back(step(add_column_call(s, c, true, true), access_exclusive,
                             staged_cons ? "brief, queue-safe: the column (catalog only), its constraints tried NOT VALID"
                                         : "brief, queue-safe: the column (catalog only)"));
        w.stageable = !unstaged;
    } else {
        sql::AddColumnSpec spec;
        spec.table = s.table;
        spec.column = c.column;
        spec.type = c.type;
        spec.default_expr = c.default_expr;
        spec.not_null = c.not_null && !c.primary_key;
        steps.push_back(step(sql::add_column(spec), access_exclusive, "brief, queue-safe: catalog only"));
        w.stageable = !unstaged && (c.check || c.references || c.unique || c.primary_key);
    }
    if (staged_cons)
        add_staged_validate(steps, s, c);
    if (staged_index)
        add_staged_index(steps, s, c);
    if (c.check && !call_stages_check(c)) {
        steps.push_back(step(check_not_valid(s, c.check_name, *c.check), access_exclusive,
                             "brief: new and updated rows are checked from now on"));
        add_validate(steps, s, c.check_name, false);
    }
    if (c.references && !call_stages_references(c))
        add_fk_steps(steps, s, c.fk_name, "(" + c.column + ")", *c.references);
    if (c.primary_key && !c.not_null && !staged_index)
        add_not_null_steps(steps, s, c.column, c.check_name);
    if ((c.unique || c.primary_key) && !staged_index)
        add_unique_steps(steps, s, c.unique_name, "(" + c.column + ")", c.primary_key, c.unique_attributes);
}

}  // namespace

// The safe statements for every kind, one case each.
SafeWay safe_way(const Statement &s, const Command &c) {
    SafeWay w;
    Effect e = assess(s, c);
    if (!e.heavy()) {
        w.stageable = c.kind == Kind::add_column;
        w.steps.push_back(step("", c.lockmode,
                               "as sent, after taking its lock queue-safely: " + e.what));
        return w;
    }
    std::vector<PlanStep> &steps = w.steps;
    switch (c.kind) {
    case Kind::add_column:
        add_column_way(s, c, e, w);
        return w;
    case Kind::set_not_null:
        add_not_null_steps(steps, s, c.column, c.constraint);
        return w;
    case Kind::add_check:
        steps.push_back(step(check_not_valid(s, c.constraint, c.expr), access_exclusive,
                             "brief: new and updated rows are checked from now on"));
        add_validate(steps, s, c.constraint, false);
        return w;
    case Kind::add_foreign_key:
        add_fk_steps(steps, s, c.constraint, c.keys, c.fk_target);
        return w;
    case Kind::add_unique:
    case Kind::add_primary_key:
        add_unique_steps(steps, s, c.constraint, c.keys, c.kind == Kind::add_primary_key, c.unique_attributes);
        if (c.kind == Kind::add_primary_key)
            w.advice = s.not_null_not_valid
                           ? "If a key column is nullable, make it NOT NULL first the safe way: ADD CONSTRAINT ... "
                             "NOT NULL column NOT VALID, VALIDATE CONSTRAINT."
                           : "If a key column is nullable, make it NOT NULL first the safe way: ADD CONSTRAINT ... "
                             "CHECK (column IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, SET NOT NULL, DROP CONSTRAINT.";
        return w;
    case Kind::alter_type: {
        std::string backfill = c.using_expr ? *c.using_expr : c.column + "::" + c.type;
        steps.push_back(step((boost::format("SELECT safe_add_column(%1%, %2%, %3%, backfill_expr => %4%)") %
                              regclass_literal(s) % sql::literal(c.new_column_name) % sql::literal(c.type) %
                              sql::literal(backfill))
                                 .str(),
                             access_exclusive,
                             "brief, queue-safe: a new column of the new type, nullable; the worker fills it from "
                             "the old one in the background, starting when the transaction commits"));
        PlanStep fill = step("", 3, "background worker: converts the existing rows in short batches");
        fill.seconds.reset();
        steps.push_back(fill);
        w.advice = (boost::format("In the same transaction as safe_add_column, create a trigger that sets %1% from "
                                  "%2% on INSERT and UPDATE, so that no write is missed; once the job is complete, "
                                  "switch the application to %1% (add its default and constraints the safe way), "
                                  "then drop %2% and rename %1% in one brief transaction.") %
                    c.new_column % c.column)
                       .str();
        return w;
    }
    case Kind::set_tablespace:
    case Kind::set_persistence:
        w.advice = "PostgreSQL has no online form of this change: run it in a maintenance window, or move the data "
                   "into a new table while the application runs (a tool such as pg_repack does that).";
        return w;
    case Kind::add_exclusion:
        w.advice = "An exclusion constraint has no USING INDEX form, so its index is always built under the lock: "
                   "add it when the table is quiet. For plain equality, a UNIQUE constraint can be built "
                   "concurrently instead (CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX).";
        return w;
    case Kind::other:
        return w;
    }
    return w;
}

namespace {

// What the heavy subcommands of a statement add up to.
struct Summary {
    std::string detail, safe_sql, advice;
    bool heavy = false, rewrite = false, scan = false, index = false, all_stageable = true;
    int strongest = 0, statements = 0;
    double seconds = 0;
};

Summary summarize(const Statement &s) {
    Summary m;
    for (const Command &c : s.cmds) {
        Effect e = assess(s, c);
        SafeWay w = safe_way(s, c);
        if (!w.stageable)
            m.all_stageable = false;
        if (!e.heavy())
            continue;
        m.heavy = true;
        m.rewrite = m.rewrite || e.rewrite;
        m.scan = m.scan || e.scan;
        m.index = m.index || e.index_build;
        if (e.lockmode > m.strongest)
            m.strongest = e.lockmode;
        m.seconds += e.seconds;
        m.detail += (m.detail.empty() ? "" : " ") + e.what;
        for (const PlanStep &p : w.steps)
            m.statements += p.sql.empty() ? 0 : 1;
        std::string joined = join_sql(w.steps);
        if (!joined.empty())
            m.safe_sql += (m.safe_sql.empty() ? "" : " ") + joined;
        if (!w.advice.empty())
            m.advice += (m.advice.empty() ? "" : " ") + w.advice;
    }
    return m;
}

}  // namespace

Verdict decide(const Statement &s, Mode mode, std::int64_t min_bytes) {
    Verdict v;
    if (mode == Mode::off || s.cmds.empty())
        return v;
    Summary m = summarize(s);
    if (!m.heavy) {
        v.action = mode == Mode::warn ? Action::run : Action::run_guarded;
        return v;
    }
    std::string &detail = m.detail;
    const std::string &safe_sql = m.safe_sql, &advice = m.advice;
    const bool rewrite = m.rewrite, index = m.index, all_stageable = m.all_stageable;
    const int strongest = m.strongest;
    const double seconds = m.seconds;

    std::string verb = rewrite ? "rewrite" : index ? "build an index on" : "scan";
    std::string lock = lock_mode_name(strongest);
    detail += (boost::format(" Table %1% holds %2% of data and %3% of indexes; estimated time under the lock: %4%, "
                             "during which %5%.") %
               s.table_name % pretty_bytes(s.table_bytes) % pretty_bytes(s.index_bytes) % pretty_seconds(seconds) %
               (strongest == access_exclusive ? "every query on the table waits" : "every write to the table waits"))
                  .str();
    if (s.cmds.size() > 1)
        detail += " The strictest subcommand decides for the whole statement.";
    std::string hint;
    if (!safe_sql.empty())
        hint = (s.cmds.size() > 1 ? "Run the other subcommands as their own ALTER TABLE, and instead of these: "
                   : m.statements == 1 ? "Run instead: "
                                       : "Run instead, each in its own transaction: ") +
               safe_sql;
    if (!advice.empty())
        hint += (hint.empty() ? "" : " ") + advice;

    if (mode == Mode::warn) {
        v.action = Action::warn;
        v.message = (boost::format("this ALTER TABLE will %1% table %2% under %3% lock") % verb % s.table_name % lock).str();
        v.detail = detail;
        v.hint = hint;
        return v;
    }
    if (s.table_bytes < min_bytes) {
        v.action = Action::run_guarded;
        v.below_min_size = true;
        return v;
    }
    if (mode == Mode::stage && all_stageable) {
        bool all_add = true;
        for (const Command &c : s.cmds)
            all_add = all_add && c.kind == Kind::add_column;
        if (all_add) {
            v.action = Action::stage;
            return v;
        }
    }
    v.action = Action::refuse;
    v.message = (boost::format("this ALTER TABLE would %1% table %2% under %3% lock") % verb % s.table_name % lock).str();
    v.detail = detail;
    if (mode == Mode::stage)
        hint += (hint.empty() ? "" : " ") +
                std::string("safe_column.mode = stage stages ADD COLUMN statements only, when safe_add_column can do "
                            "all they ask.");
    hint += (hint.empty() ? "" : " ") +
            std::string("To run it as sent anyway, SET safe_column.mode = off for this transaction (SET LOCAL).");
    v.hint = capitalized(hint);
    return v;
}

std::vector<PlanStep> plan(const Statement &s, const std::string &sql_as_sent) {
    std::vector<PlanStep> out;
    for (const Command &c : s.cmds) {
        Effect e = assess(s, c);
        PlanStep p;
        p.approach = "as sent";
        p.sql = sql_as_sent;
        p.lockmode = e.lockmode;
        p.rewrite = e.rewrite;
        p.scan = e.scan;
        p.index_build = e.index_build;
        p.seconds = e.seconds;
        p.note = e.what;
        out.push_back(p);
    }
    for (const Command &c : s.cmds) {
        SafeWay w = safe_way(s, c);
        for (PlanStep p : w.steps) {
            if (p.sql.empty() && p.note.rfind("as sent", 0) == 0)
                p.sql = sql_as_sent;
            out.push_back(p);
        }
        if (!w.advice.empty()) {
            PlanStep p;
            p.approach = "advice";
            p.note = w.advice;
            out.push_back(p);
        }
    }
    return out;
}

std::string parenthesized_after(const std::string &sql, std::size_t from) {
    std::size_t i = from;
    int depth = 0;
    std::size_t start = std::string::npos;
    const std::size_t n = sql.size();
    while (i < n) {
        char ch = sql[i];
        if (ch == '\'' || ch == '"') {  // quoted string or identifier; a doubled quote stays inside
            char q = ch;
            i++;
            while (i < n) {
                if (sql[i] == q) {
                    if (i + 1 < n && sql[i + 1] == q) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i++;
            }
            i++;
            continue;
        }
        if (ch == '-' && i + 1 < n && sql[i + 1] == '-') {
            while (i < n && sql[i] != '\n')
                i++;
            continue;
        }
        if (ch == '/' && i + 1 < n && sql[i + 1] == '*') {
            std::size_t end = sql.find("*/", i + 2);
            i = end == std::string::npos ? n : end + 2;
            continue;
        }
        if (ch == '$') {  // $tag$ ... $tag$
            std::size_t close = sql.find('$', i + 1);
            bool tag = close != std::string::npos;
            for (std::size_t k = i + 1; tag && k < close; k++) {
                char t = sql[k];
                tag = (t == '_' || (t >= 'a' && t <= 'z') || (t >= 'A' && t <= 'Z') ||
                       (k > i + 1 && t >= '0' && t <= '9') || static_cast<unsigned char>(t) >= 0x80);
            }
            if (tag) {
                std::string delim = sql.substr(i, close - i + 1);
                std::size_t end = sql.find(delim, close + 1);
                i = end == std::string::npos ? n : end + delim.size();
                continue;
            }
        }
        if (ch == '(') {
            if (depth == 0)
                start = i + 1;
            depth++;
        } else if (ch == ')' && depth > 0) {
            depth--;
            if (depth == 0)
                return sql.substr(start, i - start);
        }
        i++;
    }
    return {};
}

std::size_t skip_comment(const std::string &text, std::size_t i) {
    const std::size_t n = text.size();
    if (text.compare(i, 2, "--") == 0) {
        std::size_t end = text.find('\n', i);
        return end == std::string::npos ? n : end + 1;
    }
    int depth = 0;
    do {
        if (text.compare(i, 2, "/*") == 0) {
            depth++;
            i += 2;
        } else if (text.compare(i, 2, "*/") == 0) {
            depth--;
            i += 2;
        } else {
            i++;
        }
    } while (i < n && depth > 0);
    return i;
}

std::size_t keyword_at(const std::string &text, const std::string &keyword) {
    const std::size_t n = text.size();
    auto word_char = [](char ch) {
        return ch == '_' || ch == '$' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               static_cast<unsigned char>(ch) >= 0x80;
    };
    std::size_t i = 0;
    while (i < n) {
        char ch = text[i];
        if (ch == '\'' || ch == '"') {  // a doubled quote stays inside
            std::size_t j = i + 1;
            while (j < n && !(text[j] == ch && (j + 1 >= n || text[j + 1] != ch)))
                j += text[j] == ch ? 2 : 1;
            i = j + 1;
            continue;
        }
        if (text.compare(i, 2, "--") == 0 || text.compare(i, 2, "/*") == 0) {
            i = skip_comment(text, i);
            continue;
        }
        if (!word_char(ch)) {
            i++;
            continue;
        }
        std::size_t start = i;
        std::string upper;
        while (i < n && word_char(text[i]))
            upper += static_cast<char>(text[i] >= 'a' && text[i] <= 'z' ? text[i] - 'a' + 'A' : text[i]), i++;
        if (upper == keyword)
            return start;
    }
    return std::string::npos;
}

}  // namespace sc::ddl
