#include "pg/subxact.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/resowner.h"
}

namespace sc::pg {

ErrorData *run_in_subtransaction(void (*fn)(void *), void *arg) {
    MemoryContext oldcxt = CurrentMemoryContext;
    ResourceOwner oldowner = CurrentResourceOwner;
    ErrorData *volatile edata = nullptr;

    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(oldcxt);
    PG_TRY();
    {
        fn(arg);
        ReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(oldcxt);
        CurrentResourceOwner = oldowner;
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(oldcxt);
        edata = CopyErrorData();
        FlushErrorState();
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(oldcxt);
        CurrentResourceOwner = oldowner;
    }
    PG_END_TRY();
    return edata;
}

}  // namespace sc::pg
