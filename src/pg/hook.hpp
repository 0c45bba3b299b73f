// The ProcessUtility hook that guards, refuses or stages ALTER TABLE (safe_column.mode), and
// safe_column_plan(ddl) (plan_function.cpp). See hook.cpp.
#pragma once

#include "core/ddl_guard.hpp"

namespace sc::pg {

extern int ddl_mode;           // safe_column.mode (sc::ddl::Mode)
extern int guard_min_size_kb;  // safe_column.guard_min_size

// Defines the hook's GUCs and installs the hook (from _PG_init, before MarkGUCPrefixReserved).
void hook_init();

// The name of a safe_column.mode value, for messages ("guard").
const char *mode_name(sc::ddl::Mode m);

}  // namespace sc::pg
