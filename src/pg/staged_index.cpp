#include <string>

#include "core/index_guard.hpp"
#include "core/job_phase.hpp"
#include "pg/add_column.hpp"
#include "pg/guard.hpp"
#include "pg/jobs.hpp"
#include "pg/staged_constraints.hpp"
#include "pg/staged_index.hpp"
#include "pg/worker.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"
}

namespace sc::pg {

namespace {

char *core_concurrently(const char *sql) {
    return cpp_entry("safe_column utility hook", [&] {
        std::string text = sc::ddl::with_concurrently(sql);
        return pg_call([&] { return pstrdup(text.c_str()); });
    });
}

}  // namespace

int64 stage_create_index(const CIndexStatement *s, IndexStmt *is) {
    // The index goes into its table's schema: its name must be free there (as DefineIndex checks).
    if (OidIsValid(get_relname_relid(is->idxname, get_rel_namespace(s->relid)))) {
        if (is->if_not_exists) {
            ereport(NOTICE, (errcode(ERRCODE_DUPLICATE_TABLE),
                             errmsg("relation \"%s\" already exists, skipping", is->idxname)));
            return 0;
        }
        ereport(ERROR, (errcode(ERRCODE_DUPLICATE_TABLE), errmsg("relation \"%s\" already exists", is->idxname)));
    }
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    if (!staged_index_supported())
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("staging CREATE INDEX needs safe_column 0.4"),
                        errhint("Run ALTER EXTENSION safe_column UPDATE, or SET safe_column.mode = guard.")));
    auto *ix = static_cast<StagedConstraint *>(palloc0(sizeof(StagedConstraint)));
    ix->contype = 'x';
    ix->name = pstrdup(is->idxname);
    ix->definition = pstrdup(s->sql);
    ix->requested = ix->definition;
    ix->index_sql = core_concurrently(s->sql);
    NewJob job{};
    job.relid = s->relid;
    job.attnum = InvalidAttrNumber;
    job.kind = "create_index";
    job.state = "queued";
    job.phase = sc::phase_name(sc::JobPhase::build_index);
    job.new_rows_get_value = true;
    job.staged = list_make1(ix);
    int64 job_id = insert_job(&job);
    start_worker_at_commit();
    SPI_finish();
    ereport(NOTICE, (errmsg("safe_column staged CREATE INDEX %s on %s as job %lld", s->index, s->table_name,
                            static_cast<long long>(job_id)),
                     errdetail("The background worker builds it with CREATE INDEX CONCURRENTLY once this transaction "
                               "commits: the application's reads and writes go on meanwhile."),
                     errhint("Wait for it with CALL safe_column_watch(%lld), or follow it in safe_column_progress.",
                             static_cast<long long>(job_id))));
    return job_id;
}

}  // namespace sc::pg
