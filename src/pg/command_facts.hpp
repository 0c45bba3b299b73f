// The facts of each kind of ALTER TABLE subcommand (see command_facts.cpp).
#pragma once

#include "pg/hook_facts.hpp"

namespace sc::pg {

bool gather_add_column(const CStatement *s, AlterTableCmd *cmd, CCommand *c, const char *query, bool strict);
void gather_set_not_null(const CStatement *s, const char *colname, CCommand *c, bool locked);
void gather_alter_type(const CStatement *s, AlterTableCmd *cmd, CCommand *c, const char *query, bool locked);
void gather_add_constraint(const CStatement *s, AlterTableCmd *cmd, CCommand *c, const char *query, bool locked);
void gather_set_tablespace(const CStatement *s, AlterTableCmd *cmd, CCommand *c);
void gather_set_persistence(const CStatement *s, AlterTableCmd *cmd, CCommand *c);

}  // namespace sc::pg
