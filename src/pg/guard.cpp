#include "pg/guard.hpp"

namespace sc::pg::detail {

void raise_caught(const char *where, const CaughtError &err) {
    if (err.pg)
        ReThrowError(err.pg);
    bool unexpected = err.sqlerrcode == ERRCODE_INTERNAL_ERROR;
    ereport(ERROR, (errcode(err.sqlerrcode), errmsg_internal("%s", err.message),
                    err.detail[0] ? errdetail_internal("%s", err.detail) : 0,
                    err.hint[0] ? errhint("%s", err.hint) : 0,
                    unexpected ? errcontext("C++ exception caught in safe_column's %s", where) : 0));
    pg_unreachable();
}

}  // namespace sc::pg::detail
