// Unit tests of src/core/lock_report: the DETAIL of the lock_not_available error.
#include "core/lock_report.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using sc::Blocker;
using sc::blocker_detail;
using sc::query_excerpt;

bool ends_with(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool contains(const std::string &s, const std::string &part) { return s.find(part) != std::string::npos; }

// UTF-8 well-formedness: no truncated sequence, no stray continuation byte.
bool valid_utf8(const std::string &s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        std::size_t len;
        if (c < 0x80)
            len = 1;
        else if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4;
        else
            return false;
        if (i + len > s.size())
            return false;
        for (std::size_t k = 1; k < len; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

std::string repeat(const std::string &s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
        out += s;
    return out;
}

// Checks that excerpt is `text` cut at a character boundary within max_bytes, followed by "...".
void expect_cut_at_boundary(const std::string &text, std::size_t max_bytes, const std::string &excerpt) {
    ASSERT_TRUE(ends_with(excerpt, "...")) << excerpt;
    const std::string body = excerpt.substr(0, excerpt.size() - 3);
    EXPECT_TRUE(valid_utf8(excerpt)) << "max " << max_bytes << ": " << excerpt;
    EXPECT_EQ(text.compare(0, body.size(), body), 0) << "not a prefix: " << excerpt;
    EXPECT_LE(body.size(), max_bytes) << excerpt;
    // At most the bytes of one (at most 4-byte) character are given up to stay on a boundary.
    EXPECT_GT(body.size() + 4, max_bytes) << excerpt;
}

// ---------------------------------------------------------------------------------------------------
// query_excerpt

TEST(QueryExcerpt, ShortQueryIsUnchanged) {
    EXPECT_EQ(query_excerpt("SELECT 1"), "SELECT 1");
    EXPECT_EQ(query_excerpt(""), "");
}

TEST(QueryExcerpt, FoldsNewlinesTabsAndRunsOfSpaces) {
    EXPECT_EQ(query_excerpt("SELECT  *\n\tFROM   users\r\n  WHERE id = 1"), "SELECT * FROM users WHERE id = 1");
    EXPECT_EQ(query_excerpt("a\n\n\nb\t\tc \t \n d"), "a b c d");
    EXPECT_EQ(query_excerpt("a\vb\fc"), "a b c");
}

TEST(QueryExcerpt, TrimsLeadingAndTrailingWhiteSpace) {
    EXPECT_EQ(query_excerpt("  \n\tSELECT 1;\n  \t"), "SELECT 1;");
    EXPECT_EQ(query_excerpt(" x "), "x");
    EXPECT_EQ(query_excerpt(" \n\t  "), "");
}

TEST(QueryExcerpt, DefaultCutIsSixtyCharactersPlusEllipsis) {
    const std::string sixty = repeat("0123456789", 6);
    EXPECT_EQ(query_excerpt(sixty), sixty);
    EXPECT_EQ(query_excerpt(sixty + "X"), sixty + "...");
    EXPECT_EQ(query_excerpt(sixty + "XYZ and more"), sixty + "...");
}

TEST(QueryExcerpt, CutsToTheGivenMaximum) {
    EXPECT_EQ(query_excerpt("abcdefghij", 4), "abcd...");
    EXPECT_EQ(query_excerpt("abcdefghij", 9), "abcdefghi...");
    EXPECT_EQ(query_excerpt("abcdefghij", 10), "abcdefghij");
    EXPECT_EQ(query_excerpt("abcdefghij", 100), "abcdefghij");
    EXPECT_EQ(query_excerpt("abcdefghij", 0), "...");
}

TEST(QueryExcerpt, FoldsBeforeCutting) {
    // 100 spaces fold into one, so the query fits.
    EXPECT_EQ(query_excerpt("SELECT" + std::string(100, ' ') + "1", 10), "SELECT 1");
    EXPECT_EQ(query_excerpt("SELECT\n\n\n\n\n\n*\n\n\n\nFROM t", 10), "SELECT * F...");
}

TEST(QueryExcerpt, NeverCutsATwoByteCharacterInHalf) {
    const std::string text = repeat("é", 50);  // 100 bytes
    for (std::size_t max = 0; max <= 101; ++max) {
        const std::string out = query_excerpt(text, max);
        EXPECT_TRUE(valid_utf8(out)) << "max " << max << ": " << out;
        if (max >= text.size()) {
            EXPECT_EQ(out, text);
        } else {
            expect_cut_at_boundary(text, max, out);
        }
    }
    // Concretely: 59 bytes hold 29 characters, the 30th would be cut in half.
    EXPECT_EQ(query_excerpt(repeat("é", 40), 59), repeat("é", 29) + "...");
    EXPECT_EQ(query_excerpt(repeat("é", 40), 60), repeat("é", 30) + "...");
    EXPECT_EQ(query_excerpt("x" + repeat("é", 40), 60), "x" + repeat("é", 29) + "...");
}

TEST(QueryExcerpt, NeverCutsAThreeByteCharacterInHalf) {
    // The cut lands on each of the three bytes of 日 or 本 in turn.
    for (int pad = 0; pad < 3; ++pad) {
        const std::string text = std::string(pad, 'a') + "SELECT '" + repeat("日本", 20) + "'";
        for (std::size_t max = 0; max <= text.size(); ++max) {
            const std::string out = query_excerpt(text, max);
            if (max >= text.size()) {
                EXPECT_EQ(out, text);
            } else {
                expect_cut_at_boundary(text, max, out);
            }
        }
    }
    EXPECT_EQ(query_excerpt(repeat("日本", 10), 7), "日本...");
    EXPECT_EQ(query_excerpt(repeat("日本", 10), 8), "日本...");
    EXPECT_EQ(query_excerpt(repeat("日本", 10), 9), "日本日...");
}

TEST(QueryExcerpt, NeverCutsAFourByteCharacterInHalf) {
    const std::string text = "-- " + repeat("\xF0\x9F\x90\x98", 30);  // U+1F418
    for (std::size_t max = 0; max < text.size(); ++max)
        expect_cut_at_boundary(text, max, query_excerpt(text, max));
}

TEST(QueryExcerpt, MultiByteCharactersAreNotMistakenForWhiteSpace) {
    // U+00A0 (C2 A0) and U+3000 (E3 80 80): isspace() must not see their bytes as ASCII white space.
    const std::string text = "a\xC2\xA0" "b\xE3\x80\x80" "c é 日";
    EXPECT_EQ(query_excerpt(text), text);
}

// ---------------------------------------------------------------------------------------------------
// blocker_detail

Blocker idle_blocker() {
    Blocker b;
    b.pid = 4242;
    b.relation = "public.users";
    b.lock_mode = "AccessShareLock";
    b.state = "idle in transaction";
    b.xact_age_s = 12.34;
    b.query = "SELECT *\n    FROM users\n   WHERE id = 7";
    return b;
}

TEST(BlockerDetail, OneBlockerExactText) {
    EXPECT_EQ(blocker_detail({idle_blocker()}, 5, 1500.0),
              "Gave up after 5 lock attempts over 1.5 s.\n"
              "Process 4242 holds AccessShareLock on public.users (idle in transaction, transaction open for "
              "12.3 s), query: SELECT * FROM users WHERE id = 7.");
}

TEST(BlockerDetail, MentionsEveryBlocker) {
    Blocker a = idle_blocker();
    Blocker b;
    b.pid = 17;
    b.relation = "\"Sales\".\"Orders\"";
    b.lock_mode = "RowExclusiveLock";
    b.state = "active";
    b.xact_age_s = 0.96;
    b.query = "UPDATE \"Sales\".\"Orders\" SET paid = true";
    Blocker c;
    c.pid = 99999;
    c.relation = "public.users";
    c.lock_mode = "ShareUpdateExclusiveLock";
    c.state = "active";
    c.xact_age_s = 3600.0;
    c.query = "VACUUM public.users";

    const std::string text = blocker_detail({a, b, c}, 12, 30000.0);
    for (const std::string &part :
         {std::string("Process 4242 holds AccessShareLock on public.users"),
          std::string("Process 17 holds RowExclusiveLock on \"Sales\".\"Orders\""),
          std::string("Process 99999 holds ShareUpdateExclusiveLock on public.users"), std::string("(active"),
          std::string("(idle in transaction"), std::string("transaction open for 1.0 s"),
          std::string("transaction open for 3600.0 s"), std::string("transaction open for 12.3 s"),
          std::string("query: UPDATE \"Sales\".\"Orders\" SET paid = true."),
          std::string("query: VACUUM public.users."), std::string("12 lock attempts over 30.0 s.")})
        EXPECT_TRUE(contains(text, part)) << "missing \"" << part << "\" in:\n" << text;

    // One line per blocker, in the given order, each a sentence.
    EXPECT_LT(text.find("Process 4242"), text.find("Process 17 "));
    EXPECT_LT(text.find("Process 17 "), text.find("Process 99999"));
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
        lines.push_back(text.substr(start, nl - start));
    lines.push_back(text.substr(start));
    ASSERT_EQ(lines.size(), 4u) << text;
    for (const std::string &line : lines)
        EXPECT_TRUE(ends_with(line, ".")) << line;
    EXPECT_FALSE(contains(text, "No session holds"));
}

TEST(BlockerDetail, AttemptCountSingularAndPlural) {
    const std::string one = blocker_detail({idle_blocker()}, 1, 100.0);
    EXPECT_TRUE(contains(one, "Gave up after 1 lock attempt over 0.1 s.")) << one;
    EXPECT_FALSE(contains(one, "attempts")) << one;

    EXPECT_TRUE(contains(blocker_detail({idle_blocker()}, 2, 2500.0), "Gave up after 2 lock attempts over 2.5 s."));
    EXPECT_TRUE(contains(blocker_detail({}, 0, 0.0), "Gave up after 0 lock attempts over 0.0 s."));
    EXPECT_TRUE(contains(blocker_detail({}, 21, 29876.0), "Gave up after 21 lock attempts over 29.9 s."));
}

TEST(BlockerDetail, EmptyListGetsTheSpecialSentence) {
    EXPECT_EQ(blocker_detail({}, 3, 1500.0),
              "Gave up after 3 lock attempts over 1.5 s. No session holds a conflicting lock any more: the "
              "blockers ended after the last attempt.");
}

TEST(BlockerDetail, UnknownTransactionAgeIsOmitted) {
    Blocker b = idle_blocker();
    b.xact_age_s = -1;
    const std::string text = blocker_detail({b}, 4, 400.0);
    EXPECT_FALSE(contains(text, "transaction open")) << text;
    EXPECT_TRUE(contains(text, "Process 4242 holds AccessShareLock on public.users (idle in transaction), query: "
                               "SELECT * FROM users WHERE id = 7."))
        << text;
    b.xact_age_s = -0.001;
    EXPECT_FALSE(contains(blocker_detail({b}, 4, 400.0), "transaction open"));
}

TEST(BlockerDetail, TransactionAgeHasOneDecimal) {
    Blocker b = idle_blocker();
    for (const auto &[age, shown] : std::vector<std::pair<double, std::string>>{
             {0.0, "0.0"}, {0.04, "0.0"}, {0.96, "1.0"}, {7.0, "7.0"}, {59.94, "59.9"}, {123.456, "123.5"}}) {
        b.xact_age_s = age;
        const std::string text = blocker_detail({b}, 2, 200.0);
        EXPECT_TRUE(contains(text, "(idle in transaction, transaction open for " + shown + " s)"))
            << age << ":\n" << text;
    }
}

TEST(BlockerDetail, UnknownStateAndEmptyQuery) {
    Blocker b = idle_blocker();
    b.state.clear();
    b.query.clear();
    b.xact_age_s = -1;
    EXPECT_EQ(blocker_detail({b}, 2, 2000.0),
              "Gave up after 2 lock attempts over 2.0 s.\n"
              "Process 4242 holds AccessShareLock on public.users (state unknown).");
}

TEST(BlockerDetail, LongQueryIsExcerpted) {
    Blocker b = idle_blocker();
    b.query = "SELECT " + repeat("some_column, ", 20) + "THE_END FROM users";
    const std::string text = blocker_detail({b}, 2, 200.0);
    EXPECT_TRUE(contains(text, ", query: " + query_excerpt(b.query))) << text;
    EXPECT_TRUE(contains(text, "...")) << text;
    EXPECT_FALSE(contains(text, "....")) << text;  // the ellipsis ends the sentence
    EXPECT_FALSE(contains(text, "THE_END")) << text;
}

TEST(BlockerDetail, PercentSignsInValuesAreNotFormatDirectives) {
    Blocker b = idle_blocker();
    b.relation = "public.\"100%\"";
    b.lock_mode = "%1%";
    b.state = "idle %s";
    b.query = "SELECT 7 % 3, '%2$s'";
    std::string text;
    ASSERT_NO_THROW(text = blocker_detail({b}, 2, 200.0));
    EXPECT_TRUE(contains(text, "Process 4242 holds %1% on public.\"100%\" (idle %s, transaction open for 12.3 s), "
                               "query: SELECT 7 % 3, '%2$s'."))
        << text;
}

}  // namespace
