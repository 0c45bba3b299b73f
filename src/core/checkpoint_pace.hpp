// The checkpoint pace: how fast a backfill may write WAL so that the checkpoints it causes are spread
// out, instead of stopping until the next timed checkpoint.
//
// The server forces a checkpoint once the WAL since the last checkpoint's redo point reaches a distance
// D (about max_wal_size / (1 + checkpoint_completion_target)), and logs "checkpoints are occurring too
// frequently" when a forced one starts sooner than checkpoint_warning after the previous one. The
// backfill keeps the WAL since the redo point (everybody's, not only its own) under a line that rises
// from 0 at the checkpoint's start to D after the minimum interval T: a checkpoint it causes then comes
// no sooner than T. And it writes its own WAL at no more than D / T on average, so that the load is a
// steady rate, not a burst each time a quiet cycle left room under the line.
#pragma once

namespace sc {

// The minimum interval between checkpoints a backfill may cause, in seconds, from the setting
// safe_column.checkpoint_min_interval (seconds; -1: derived; 0: no pace) and the server's
// checkpoint_warning (seconds; 0: off). Derived: checkpoint_warning plus kPaceMargin (a checkpoint
// starts a little after it was requested), or 30 s (PostgreSQL's default checkpoint_warning) plus the
// margin when checkpoint_warning is off. 0: no pace.
inline constexpr double kPaceMargin = 0.1;
inline constexpr double kDefaultCheckpointWarningS = 30.0;
double checkpoint_min_interval_s(int setting_s, int checkpoint_warning_s) noexcept;

// The average WAL rate (bytes per second) that fills the distance in the interval; 0 when either is
// not positive (no pace).
double checkpoint_pace_rate(double distance_bytes, double min_interval_s) noexcept;

// Where the server is in its checkpoint cycle.
struct CheckpointCycle {
    double since_redo = 0;   // WAL bytes since the redo point of the last checkpoint
    double distance = 0;     // bytes from that redo point to the forced checkpoint
    double elapsed_s = 0;    // seconds since that checkpoint started
};

// The line: the share of the distance the WAL since the redo point may have reached elapsed_s into the
// cycle, (elapsed_s + slack) / interval with a slack of half the margin (1.5 s at the defaults: a forced
// checkpoint still comes no sooner than checkpoint_warning), so that the first batches of a cycle need
// not wait for the line to leave zero. Infinite when there is no pace.
double checkpoint_pace_line(double elapsed_s, double min_interval_s) noexcept;

// The WAL that may be written at once, now, without forcing a checkpoint sooner than the interval: up to
// the line (never below zero), or infinite once the line has reached the whole distance (a checkpoint
// forced now comes no sooner than the interval) or when there is no pace. For what writes its WAL in
// one go rather than batch by batch (a VACUUM pass, whose full-page images come all at once).
double checkpoint_pace_allowance(const CheckpointCycle &cycle, double min_interval_s) noexcept;

}  // namespace sc
