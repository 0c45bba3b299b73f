// The one exception type of the pure C++ core.
//
// It carries what PostgreSQL needs to report an error (a five-character SQLSTATE, the primary message,
// DETAIL and HINT) without depending on any PostgreSQL header. The guard in src/pg/guard.hpp turns it
// into ereport(ERROR) once every C++ frame below the SQL-callable function has unwound.
#pragma once

#include <stdexcept>
#include <string>

namespace sc {

class Error : public std::runtime_error {
public:
    Error(std::string sqlstate, const std::string &message, std::string detail = {}, std::string hint = {})
        : std::runtime_error(message), sqlstate_(std::move(sqlstate)), detail_(std::move(detail)),
          hint_(std::move(hint)) {
        if (sqlstate_.size() != 5)
            sqlstate_ = "XX000";
    }

    const std::string &sqlstate() const noexcept { return sqlstate_; }
    const std::string &detail() const noexcept { return detail_; }
    const std::string &hint() const noexcept { return hint_; }

private:
    std::string sqlstate_;
    std::string detail_;
    std::string hint_;
};

// SQLSTATEs the core raises (names as in PostgreSQL's errcodes.txt).
namespace sqlstate {
inline constexpr const char *internal_error = "XX000";
inline constexpr const char *invalid_parameter_value = "22023";
inline constexpr const char *feature_not_supported = "0A000";
inline constexpr const char *lock_not_available = "55P03";
inline constexpr const char *not_null_violation = "23502";
}  // namespace sqlstate

}  // namespace sc
