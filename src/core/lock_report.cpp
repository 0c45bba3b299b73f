#include "lock_report.hpp"

#include <boost/format.hpp>
#include <cctype>

namespace sc {

std::string query_excerpt(const std::string &query, std::size_t max_chars) {
    std::string folded;
    bool in_space = false;
    for (unsigned char c : query) {
        if (std::isspace(c)) {
            in_space = !folded.empty();
            continue;
        }
        if (in_space)
            folded += ' ';
        in_space = false;
        folded += static_cast<char>(c);
    }
    if (folded.size() <= max_chars)
        return folded;
    // Do not cut a multi-byte UTF-8 sequence in half.
    std::size_t cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(folded[cut]) & 0xC0) == 0x80)
        --cut;
    return folded.substr(0, cut) + "...";
}

std::string blocker_detail(const std::vector<Blocker> &blockers, int attempts, double waited_ms) {
    std::string text = (boost::format("Gave up after %1% lock attempt%2% over %3$.1f s.") % attempts %
                        (attempts == 1 ? "" : "s") % (waited_ms / 1000.0))
                           .str();
    if (blockers.empty()) {
        text += " No session holds a conflicting lock any more: the blockers ended after the last attempt.";
        return text;
    }
    for (const Blocker &b : blockers) {
        text += (boost::format("\nProcess %1% holds %2% on %3%") % b.pid % b.lock_mode % b.relation).str();
        text += " (";
        text += b.state.empty() ? std::string("state unknown") : b.state;
        if (b.xact_age_s >= 0)
            text += (boost::format(", transaction open for %1$.1f s") % b.xact_age_s).str();
        text += ")";
        std::string excerpt = query_excerpt(b.query);
        if (!excerpt.empty())
            text += (boost::format(", query: %1%") % excerpt).str();
        if (excerpt.size() < 3 || excerpt.compare(excerpt.size() - 3, 3, "...") != 0)
            text += ".";  // an excerpt that ends in an ellipsis ends the sentence already
    }
    return text;
}

}  // namespace sc
