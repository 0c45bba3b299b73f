#include <chrono>
#include <cstring>
#include <string>

#include "pg/guard.hpp"
#include "pg/job_live.hpp"
#include "pg/signals.hpp"
#include "pg/worker_session.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace sc::pg {

void forget_recorded_throttle(Live *live) {
    for (int k = 0; k < sc::signal_count; k++)
        live->unrecorded_throttle_ms[k] = 0;
}

void live_set_throttle(Live *live, const char *reason) {
    live->values.throttled = reason != nullptr;
    strlcpy(live->values.throttle_reason, reason ? reason : "", sizeof live->values.throttle_reason);
    live->values.updated_at = GetCurrentTimestamp();
    live_publish(live->slot, &live->values);
}

void live_set_phase(Live *live, sc::JobPhase phase) {
    strlcpy(live->values.phase, sc::phase_name(phase), sizeof live->values.phase);
    live->values.updated_at = GetCurrentTimestamp();
    live_publish(live->slot, &live->values);
}


// ---------------------------------------------------------------------------------------------
// Throttling between steps

namespace {

// The controller's decision as plain data (its reason copied out of the std::string in the core's
// result), so that no C++ object lives across the PostgreSQL calls that act on it.
struct GateDecision {
    sc::ThrottleDecision::Kind kind;
    sc::SignalKind signal;
    char *reason;  // palloc'd; NULL for go
};

GateDecision core_decide(sc::ThrottleController *throttle, const sc::SignalReading *readings, int n, double now_s) {
    return cpp_entry("safe_column worker", [&] {
        throw_injected_fault("throttle");
        sc::ThrottleDecision d = throttle->decide(readings, n, now_s, critical_duration_ms / 1000.0);
        GateDecision out{d.kind, d.signal, nullptr};
        if (d.kind != sc::ThrottleDecision::Kind::go)
            out.reason = pg_call([&] { return pstrdup(d.reason.c_str()); });
        return out;
    });
}

}  // namespace

ThrottleOutcome throttle_gate(Job *job, Live *live, sc::SignalKind *signal) {
    sc::SignalReading readings[sc::signal_count];
    double now_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    bool sampled = false;
    instr_time t0 = now_instr();
    int n = sample_signals(readings, job->relid, &live->signals, now_s, &sampled);
    double sample_ms = ms_since(t0);
    if (sampled)
        live->values.sample_ms = sample_ms;  // what the last full sample cost
    GateDecision d = core_decide(&live->throttle, readings, n, now_s);
    if (d.kind == sc::ThrottleDecision::Kind::go)
        return ThrottleOutcome::go;
    char *reason = d.reason;
    if (d.kind == sc::ThrottleDecision::Kind::pause) {
        pause_job(job->id, reason);
        ereport(LOG, (errmsg("safe_column job " INT64_FORMAT " paused: %s", job->id, reason)));
        live_set_throttle(live, reason);
        return ThrottleOutcome::paused;
    }
    *signal = d.signal;
    live_set_throttle(live, reason);
    return ThrottleOutcome::waiting;
}

}  // namespace sc::pg
