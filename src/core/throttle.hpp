// The throttle controller: before each batch, from the signals the server shows, go on, wait, or pause
// the job. Each signal has a limit (above it the backfill waits), a lower resume mark (hysteresis: it
// goes on only once the value fell below it), and a critical level (above it for a sustained time the
// job is paused for a human). The state is plain arrays: the controller lives in the worker across
// PostgreSQL calls, so it must be trivially destructible.
#pragma once

#include <string>

namespace sc {

enum class SignalKind : int {
    checkpoint_wal = 0,   // WAL since the redo point, as a share of the distance that forces a checkpoint
    checkpoint_running,   // 1 while a checkpoint is being written
    replica_lag_bytes,    // worst streaming standby: replay lag in bytes
    replica_lag_seconds,  // worst streaming standby: replay lag in seconds
    slot_lag_bytes,       // worst active replication slot: WAL it still needs, in bytes
    active_backends,      // backends running a query
    lock_waiters,         // sessions waiting for a lock on the job's table
    throttle_query,       // 1 when the DBA's throttle query returned true
    count
};
constexpr int signal_count = static_cast<int>(SignalKind::count);

const char *signal_name(SignalKind kind);

enum class Unit { share, flag, bytes, seconds, count };

struct SignalReading {
    SignalKind kind = SignalKind::checkpoint_wal;
    bool enabled = false;  // a disabled signal (limit 0, or not measurable) never throttles
    double value = 0;
    double limit = 0;         // wait when value > limit
    double resume_below = 0;  // go on again when value <= resume_below (<= limit)
    double critical = 0;      // pause when value > critical for critical_for_s; <= 0: never
    const char *label = "";   // e.g. the standby's name
};

struct ThrottleDecision {
    enum class Kind { go, wait, pause } kind = Kind::go;
    SignalKind signal = SignalKind::checkpoint_wal;  // the one that decided (wait or pause)
    std::string reason;                              // e.g. "replica_lag_bytes standby1 96 MB > 64 MB"
};

class ThrottleController {
public:
    ThrottleController();
    // readings: one per signal kind at most, in any order. now_s: a monotonic clock in seconds.
    ThrottleDecision decide(const SignalReading *readings, int n, double now_s, double critical_for_s);
    bool throttled(SignalKind kind) const { return throttled_[static_cast<int>(kind)]; }

private:
    bool throttled_[signal_count];
    double critical_since_[signal_count];  // negative: not above critical
};

Unit signal_unit(SignalKind kind);

// "96 MB", "12.5 s", "0.82", "3": a value as a DBA reads it.
std::string format_signal_value(double value, Unit unit);

}  // namespace sc
