// Test-only SQL functions that drive the error guards of src/pg/guard.hpp from SQL.
// Built and installed by test/run_all.sh only (never by `make install` of the extension), and
// created by the regression test itself: no debugging surface in the installed extension.
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
}

namespace {

int destructor_runs = 0;
int pg_errors_seen = 0;  // PgErrors that C++ code caught with a SQLSTATE and message

// A live C++ object whose destructor must run when an error passes through its frame.
struct Witness {
    std::string payload = std::string(64, 'x');  // owns heap memory, as real code would
    ~Witness() { destructor_runs++; }
};

void throw_kind(const std::string &kind) {
    Witness w;
    std::vector<int> v(10);
    if (kind == "runtime_error")
        throw std::runtime_error("boom from C++");
    if (kind == "bad_alloc")
        throw std::bad_alloc();
    if (kind == "invalid_argument")
        throw std::invalid_argument("bad argument from C++");
    if (kind == "out_of_range")
        (void)v.at(99);
    if (kind == "sc_error")
        throw sc::Error("22023", "invalid thing", "The thing was invalid.", "Use a valid thing.");
    if (kind == "int")
        throw 42;
    if (kind == "long_message")
        throw std::runtime_error(std::string(5000, 'm'));
}

}  // namespace

extern "C" {

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(sc_test_throw);
PG_FUNCTION_INFO_V1(sc_test_pg_error);
PG_FUNCTION_INFO_V1(sc_test_destructor_runs);
PG_FUNCTION_INFO_V1(sc_test_pg_errors_seen);

// Throws a C++ exception of the given kind below an SQL-callable function; 'none' returns normally.
Datum sc_test_throw(PG_FUNCTION_ARGS) {
    char *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
    return sc::pg::cpp_entry("sc_test_throw", [&] {
        throw_kind(kind);
        return Int32GetDatum(destructor_runs);
    });
}

// Runs a query through pg_call while C++ objects are alive in the calling frames. A PostgreSQL ERROR
// must reach C++ as PgError, unwind (running ~Witness), and be re-raised unchanged by cpp_entry.
// Returns the SQLSTATE C++ saw (never reached when the query fails).
Datum sc_test_pg_error(PG_FUNCTION_ARGS) {
    char *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
    return sc::pg::cpp_entry("sc_test_pg_error", [&] {
        Witness outer;
        try {
            Witness inner;
            sc::pg::pg_call([&] {
                if (SPI_connect() != SPI_OK_CONNECT)
                    elog(ERROR, "SPI_connect failed");
                (void)SPI_execute(query, false, 0);
                SPI_finish();
            });
        } catch (const sc::pg::PgError &e) {
            // C++ sees the SQLSTATE; count what it saw, then let it travel on unchanged.
            if (e.sqlerrcode() != 0 && e.what()[0] != '\0')
                pg_errors_seen++;
            throw;
        }
        return Int32GetDatum(destructor_runs);
    });
}

Datum sc_test_destructor_runs(PG_FUNCTION_ARGS) {
    PG_RETURN_INT32(destructor_runs);
}

Datum sc_test_pg_errors_seen(PG_FUNCTION_ARGS) {
    PG_RETURN_INT32(pg_errors_seen);
}

}  // extern "C"
