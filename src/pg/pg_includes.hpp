// PostgreSQL headers for the PostgreSQL-facing layer, with C linkage.
// Include standard and Boost headers before this file: port.h redefines snprintf and friends.
#pragma once

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
}
