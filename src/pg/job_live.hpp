// A running job's live state in the worker: its progress as published in shared memory
// (safe_column_live), its rates, its pacing, and the throttle that decides before each step.
#pragma once

#include "core/batch_sizer.hpp"
#include "core/rate_meter.hpp"
#include "core/signal_cache.hpp"
#include "core/throttle.hpp"
#include "pg/job_row.hpp"
#include "pg/shmem.hpp"

namespace sc::pg {

struct Live {
    LiveJob *slot;
    LiveJob values;
    sc::RateMeter rows_rate;    // over wall time: batches and the pauses between them
    sc::RateMeter blocks_rate;
    TimestampTz last_batch_end;
    Oid vacuum_relid;       // the part the blocks below were filled in
    int64 vacuum_blocks;    // blocks filled there since its last VACUUM
    int64 vacuum_every;     // VACUUM it after this many (sooner under a small checkpoint budget)
    uint64 vacuum_redo;  // the checkpoint redo point (an XLogRecPtr) when the blocks began to be filled
    sc::WalPerBlock vacuum_wal_per_block;  // what a VACUUM in that same checkpoint cycle wrote per filled block
    sc::WalPerBlock vacuum_wal_after_checkpoint;  // ... and one after a checkpoint began (pages imaged again)
    bool vacuum_waiting;    // a VACUUM is due but waits for a checkpoint: no batch meanwhile
    bool skip_locked_next;  // the last batch timed out on a lock: retry its range with SKIP LOCKED
    sc::ThrottleController throttle;
    sc::SignalCache signals;  // the expensive signals, reused between samples
    // Time napped on a throttling signal, by signal, not yet recorded in the job (it is recorded in the
    // next step's transaction, and kept until that commits).
    double unrecorded_throttle_ms[sc::signal_count];
    sc::PauseDebt pause_debt;  // pauses owed in fractions of a millisecond
};

void forget_recorded_throttle(Live *live);
// Publish a throttle reason (NULL: not throttled) or the phase.
void live_set_throttle(Live *live, const char *reason);
void live_set_phase(Live *live, sc::JobPhase phase);

constexpr long throttle_nap_ms = 500;

enum class ThrottleOutcome { go, waiting, paused };

// Before each step: read the signals (the expensive ones at most once per safe_column.sample_interval)
// and ask the controller. On waiting, *signal says on which (the worker records the time it then naps);
// a critical signal pauses the job for a human (in the step's transaction).
ThrottleOutcome throttle_gate(Job *job, Live *live, sc::SignalKind *signal);

}  // namespace sc::pg
