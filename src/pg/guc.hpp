// The GUCs of safe_column (all defined in module.cpp, documented in README.md).
#pragma once

namespace sc::pg {

extern int lock_timeout_ms;       // safe_column.lock_timeout
extern int lock_wait_budget_ms;   // safe_column.lock_wait_budget

}  // namespace sc::pg
