// Microbenchmark of the throttle decision the worker makes before each batch (pure core, no server):
// ThrottleController::decide over all eight signals, and the signal cache's due/get between samples,
// in the three situations that matter: every signal calm (go), one signal over its limit (wait, with
// its reason text), one signal critical. Prints nanoseconds per decision.
//   cmake --build build --target throttle_decision_bench && ./build/throttle_decision_bench
#include <chrono>
#include <cstdio>

#include "core/signal_cache.hpp"
#include "core/throttle.hpp"

namespace {

volatile int sink = 0;

double ns_per(int iterations, const sc::SignalReading *readings, int n) {
    sc::ThrottleController controller;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; i++) {
        sc::ThrottleDecision d = controller.decide(readings, n, i * 0.001, 60.0);
        sink = sink + static_cast<int>(d.kind) + static_cast<int>(d.reason.size());
    }
    std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    return took.count() / iterations;
}

void fill(sc::SignalReading *r, double scale) {
    const double MB = 1024.0 * 1024.0;
    const double limits[sc::signal_count] = {0.5, 0.5, 64 * MB, 10, 1024 * MB, 20, 0.5, 0.5};
    for (int k = 0; k < sc::signal_count; k++) {
        r[k].kind = static_cast<sc::SignalKind>(k);
        r[k].enabled = true;
        r[k].limit = limits[k];
        r[k].resume_below = limits[k] / 2;
        r[k].critical = limits[k] * 4;
        r[k].value = limits[k] * 0.1;
        r[k].label = "standby1";
    }
    r[2].value = r[2].limit * scale;  // the replica lag decides
}

}  // namespace

int main() {
    const int n = 2000000;
    sc::SignalReading readings[sc::signal_count];
    fill(readings, 0.1);
    double go = ns_per(n, readings, sc::signal_count);
    fill(readings, 1.5);
    double wait = ns_per(n, readings, sc::signal_count);
    fill(readings, 5.0);
    double critical = ns_per(n, readings, sc::signal_count);

    sc::SignalCache cache;
    cache.begin(0.0, ~sc::SignalMask{0}, 1, 1000);
    cache.put(sc::SignalKind::replica_lag_bytes, 12345.0, "standby1");
    cache.finish();
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; i++) {
        double v;
        const char *label;
        bool due = cache.due(0.5, 1.0, ~sc::SignalMask{0}, 1);
        bool got = cache.get(sc::SignalKind::replica_lag_bytes, 2000 + i, &v, &label);
        sink = sink + due + got + static_cast<int>(v);
    }
    std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;

    std::printf("throttle decision, 8 signals, all calm (go):          %7.1f ns\n", go);
    std::printf("throttle decision, one over its limit (wait, reason): %7.1f ns\n", wait);
    std::printf("throttle decision, one critical (wait, timing):       %7.1f ns\n", critical);
    std::printf("signal cache due() + get() between samples:           %7.1f ns\n", took.count() / n);
    return 0;
}
