// The words of the lock_not_available error: who blocked, and what the caller can do about it.
#pragma once

#include <string>
#include <vector>

namespace sc {

struct Blocker {
    int pid = 0;
    std::string relation;     // the locked relation, as the user would write it
    std::string lock_mode;    // e.g. AccessShareLock
    std::string state;        // pg_stat_activity.state, e.g. "idle in transaction"
    double xact_age_s = -1;   // age of its transaction in seconds, negative when unknown
    std::string query;        // pg_stat_activity.query, as visible to the caller
};

// DETAIL: one sentence for each blocking process.
std::string blocker_detail(const std::vector<Blocker> &blockers, int attempts, double waited_ms);

// The query as shown in DETAIL: white space folded, cut to at most max_chars bytes (never inside a
// UTF-8 character) followed by an ellipsis.
std::string query_excerpt(const std::string &query, std::size_t max_chars = 60);

}  // namespace sc
