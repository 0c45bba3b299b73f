// The two guards between C++ and PostgreSQL error handling: the only places where errors cross.
//
// PostgreSQL reports errors with siglongjmp, which skips C++ destructors; a C++ exception that
// unwinds through a PostgreSQL (C) frame is undefined behaviour. Either is a crash of the cluster.
//
//  * cpp_entry(): PostgreSQL -> C++. Every SQL-callable function, hook and worker entry that runs C++
//    code with live objects runs it inside cpp_entry. A C++ exception is caught there and copied into
//    fixed buffers (no allocation, no PostgreSQL call inside a catch block); the ERROR is raised only
//    after the try statement, when every C++ frame and the exception object are gone.
//
//  * pg_call(): C++ -> PostgreSQL. C++ code that holds live objects and must call something that may
//    ereport calls it inside pg_call. A PostgreSQL ERROR is caught with PG_TRY, copied out, and thrown
//    as PgError (SQLSTATE and message inside), so C++ unwinds normally and runs its destructors.
//    cpp_entry re-raises a PgError unchanged with ReThrowError, which aborts the (sub)transaction as
//    PostgreSQL expects. A PgError must never be swallowed: after it, the transaction is only fit to
//    be aborted.
//
// The body given to pg_call must itself be "C-like": no C++ object with a destructor may be created
// inside it, since the longjmp would skip it.
#pragma once

// Standard headers first: port.h, pulled in by postgres.h, redefines snprintf and friends.
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "core/error.hpp"

extern "C" {
#include "postgres.h"

#include "utils/elog.h"
#include "utils/memutils.h"
}

namespace sc::pg {

// A PostgreSQL ERROR travelling through C++ frames. Owns the copied ErrorData until it is re-raised.
class PgError : public std::exception {
public:
    explicit PgError(ErrorData *edata) noexcept : edata_(edata) {}
    PgError(PgError &&other) noexcept : edata_(std::exchange(other.edata_, nullptr)) {}
    PgError(const PgError &) = delete;
    PgError &operator=(const PgError &) = delete;
    ~PgError() override = default;  // edata lives in a memory context; the abort frees it

    const char *what() const noexcept override {
        return edata_ && edata_->message ? edata_->message : "PostgreSQL error";
    }
    int sqlerrcode() const noexcept { return edata_ ? edata_->sqlerrcode : 0; }
    ErrorData *release() const noexcept { return std::exchange(edata_, nullptr); }

private:
    mutable ErrorData *edata_;
};

namespace detail {

// What a caught C++ exception becomes, in storage that needs no allocation to fill.
struct CaughtError {
    ErrorData *pg = nullptr;  // a PgError to re-raise unchanged
    int sqlerrcode = 0;
    char message[1024] = {};
    char detail[2048] = {};
    char hint[1024] = {};
};

inline void copy_text(char *dst, std::size_t size, const char *src) noexcept {
    if (!src)
        return;
    std::size_t n = std::strlen(src);
    if (n >= size)
        n = size - 1;
    std::memcpy(dst, src, n);
    dst[n] = '\0';
}

inline int sqlstate_code(const std::string &s) noexcept {
    if (s.size() != 5)
        return ERRCODE_INTERNAL_ERROR;
    return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

[[noreturn]] void raise_caught(const char *where, const CaughtError &err);

}  // namespace detail

template <typename F>
auto cpp_entry(const char *where, F &&body) -> decltype(body()) {
    using Result = decltype(body());
    detail::CaughtError err;
    try {
        if constexpr (std::is_void_v<Result>) {
            body();
            return;
        } else {
            return body();
        }
    } catch (const PgError &e) {
        err.pg = e.release();
    } catch (const sc::Error &e) {
        err.sqlerrcode = detail::sqlstate_code(e.sqlstate());
        detail::copy_text(err.message, sizeof err.message, e.what());
        detail::copy_text(err.detail, sizeof err.detail, e.detail().c_str());
        detail::copy_text(err.hint, sizeof err.hint, e.hint().c_str());
    } catch (const std::bad_alloc &) {
        err.sqlerrcode = ERRCODE_OUT_OF_MEMORY;
        detail::copy_text(err.message, sizeof err.message, "out of memory");
    } catch (const std::invalid_argument &e) {
        err.sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
        detail::copy_text(err.message, sizeof err.message, e.what());
    } catch (const std::out_of_range &e) {
        err.sqlerrcode = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
        detail::copy_text(err.message, sizeof err.message, e.what());
    } catch (const std::exception &e) {
        err.sqlerrcode = ERRCODE_INTERNAL_ERROR;
        detail::copy_text(err.message, sizeof err.message, e.what());
    } catch (...) {
        err.sqlerrcode = ERRCODE_INTERNAL_ERROR;
        detail::copy_text(err.message, sizeof err.message, "unknown C++ exception");
    }
    // Every C++ frame of body and the exception object are gone: now PostgreSQL may longjmp.
    detail::raise_caught(where, err);
}

template <typename F>
auto pg_call(F &&body) -> decltype(body()) {
    using Result = decltype(body());
    MemoryContext oldcxt = CurrentMemoryContext;
    ErrorData *volatile edata = nullptr;
    if constexpr (std::is_void_v<Result>) {
        PG_TRY();
        {
            body();
        }
        PG_CATCH();
        {
            MemoryContextSwitchTo(oldcxt);
            edata = CopyErrorData();
            FlushErrorState();
        }
        PG_END_TRY();
        if (edata)
            throw PgError(edata);
    } else {
        static_assert(std::is_trivially_copyable_v<Result>,
                      "pg_call returns only plain values: a C++ object must not live across a longjmp");
        Result result{};
        Result *volatile out = &result;
        PG_TRY();
        {
            *out = body();
        }
        PG_CATCH();
        {
            MemoryContextSwitchTo(oldcxt);
            edata = CopyErrorData();
            FlushErrorState();
        }
        PG_END_TRY();
        if (edata)
            throw PgError(edata);
        return result;
    }
}

}  // namespace sc::pg
