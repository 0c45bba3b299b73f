// safe_add_column(): see add_column.cpp.
#pragma once

namespace sc::pg {

// True while safe_column itself runs DDL through SPI (the utility hook leaves such statements alone).
extern bool in_safe_column_ddl;

}  // namespace sc::pg
