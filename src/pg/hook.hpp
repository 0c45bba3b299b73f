// The ProcessUtility hook that guards, refuses or stages ALTER TABLE (safe_column.mode), and
// safe_column_plan(ddl) (plan_function.cpp). See hook.cpp.
#pragma once

namespace sc::pg {

extern int ddl_mode;           // safe_column.mode (sc::ddl::Mode)
extern int guard_min_size_kb;  // safe_column.guard_min_size

// Defines the hook's GUCs and installs the hook (from _PG_init, before MarkGUCPrefixReserved).
void hook_init();

}  // namespace sc::pg
