// How many heap blocks the next backfill batch covers, so that each batch takes about the target
// duration: short enough that application transactions never wait long on a batch's row locks, long
// enough that per-batch overhead stays small.
#pragma once

namespace sc {

struct BatchSizerConfig {
    double target_ms = 100.0;  // wanted duration of one batch
    int min_blocks = 1;
    int max_blocks = 8192;     // 64 MB of heap with 8 kB blocks
    int initial_blocks = 4;
};

class BatchSizer {
public:
    explicit BatchSizer(const BatchSizerConfig &config);

    int next_blocks() const noexcept { return blocks_; }

    // A batch of `blocks` blocks took elapsed_ms: move towards the size that takes target_ms, at most
    // doubling or quartering per step (one slow batch, e.g. behind a checkpoint, does not collapse it).
    void observe(int blocks, double elapsed_ms) noexcept;

    // A batch failed (lock timeout, statement timeout): halve.
    void failed() noexcept;

    // A new target (the GUC was reloaded).
    void set_target_ms(double target_ms) noexcept;

    double ms_per_block() const noexcept { return ms_per_block_; }

private:
    BatchSizerConfig config_;
    int blocks_;
    double ms_per_block_ = -1.0;  // smoothed; negative until the first observation
};

// The batch duration the worker aims at: the configured target while throttled. Unthrottled
// (safe_column.throttle = off, a maintenance window: speed first) at least
// kUnthrottledMinTargetMs, since a batch's fixed cost (its transaction, its progress rows) would
// dominate batches of a millisecond or two.
inline constexpr double kUnthrottledMinTargetMs = 10.0;
double effective_target_ms(double configured_ms, bool throttled) noexcept;

// Pause after a batch that took batch_ms, for a sleep ratio r: the worker then spends at most
// 1 / (1 + r) of its time in batches. The pause is capped at 60 s, so that a pathological batch
// cannot put a job to sleep for hours.
double pause_after_batch_ms(double batch_ms, double sleep_ratio) noexcept;

// Pause after a step that wrote wal_bytes of WAL in elapsed_ms, so that the step with its pause
// writes at most max_bytes_per_s on average (safe_column.max_wal_rate): each batch's WAL must be
// flushed by somebody, and the application's commits wait for it. 0 when the step was slow enough
// already, or when there is no limit (max_bytes_per_s 0, negative or not finite); capped at 60 s
// like pause_after_batch_ms().
double pause_for_wal_rate_ms(double wal_bytes, double elapsed_ms, double max_bytes_per_s) noexcept;

// The WAL one block of a batch writes: the most a recent batch wrote per block, decaying slowly, so
// that a batch full of full-page images (the first touch of each page after a checkpoint) is not
// forgotten at the next lighter one. Negative until the first observation.
struct WalPerBlock {
    double bytes = -1.0;
    void observe(double wal_bytes, int blocks) noexcept;
};

// The blocks of the next batch when its WAL must fit in wal_left_bytes (what is left below the
// checkpoint limit): at most blocks, at least one (the signal, not the size, holds a job at the
// limit). Unchanged when there is no estimate yet or no limit (wal_left_bytes negative or not finite).
int blocks_within_wal(int blocks, double wal_left_bytes, const WalPerBlock &per_block) noexcept;

// The VACUUM the worker runs over what it filled (so that later batches reuse the dead versions' space)
// writes WAL too: with data checksums (the default from PostgreSQL 18) a full-page image of every page
// it sets a hint bit or a visibility bit on, which can be far more than the batches wrote. It is one
// statement, so it is paced by choosing when: due after `every` filled blocks, or sooner when that much
// would not fit in half the checkpoint budget (at least min_blocks apart) or, under the pace, once it
// would take kVacuumRoomDue of the room before a forced checkpoint, and run when its expected WAL
// fits in what the pace allows now, or in half of what is left before the server would force a
// checkpoint (the batches after it then wait on the pace line until it has caught up: a pause of a
// fraction of a second, not a stop until the next checkpoint), or right after a checkpoint.
// Its WAL per filled block depends on whether a checkpoint began since the blocks were filled: a VACUUM
// in the same checkpoint cycle as the batches before it finds their pages already imaged and writes
// little (PostgreSQL 15: under 1 kB per filled block; 18 with checksums: 2 kB), the next one after a
// checkpoint images them again (15: 1.5 kB; 18 with checksums: 42 kB). So the two are measured apart (a
// decaying maximum each). Before a VACUUM of a case was measured: two pages per block; after a
// checkpoint, what the batches wrote per block if more, up to kVacuumGuessPages pages (right after a
// checkpoint a batch images every page its new row versions went to: up to 390 kB per block on 15,
// where the VACUUM then wrote 1.5 kB). When it comes due is judged at the worse of the two estimates,
// since a checkpoint can begin before it runs; whether it fits, at the estimate of its case.
inline constexpr double kVacuumGuessPages = 6.0;
inline constexpr double kVacuumRoomDue = 0.4;
struct VacuumInputs {
    long long filled = 0;       // blocks filled since the last VACUUM
    long long every = 1024;     // the pass interval without a WAL limit (a tenth of the part)
    long long min_blocks = 64;  // never more often (each VACUUM also scans the indexes)
    double wal_left = -1.0;     // bytes the limit allows at once now (negative: no limit)
    double wal_budget = 0.0;    // the whole of it in this checkpoint cycle
    double wal_room = -1.0;     // bytes before the server forces a checkpoint (negative: not a pace)
    bool after_checkpoint = false;  // a checkpoint began since the blocks were filled
    double page_bytes = 8192.0; // the estimate before any VACUUM was measured: two pages per block,
    double batch_wal_per_block = -1.0;  // after a checkpoint what the batches wrote per block if more (capped)
};
struct VacuumPlan {
    bool due = false;
    bool fits = true;
    double expected_wal = 0.0;
};
VacuumPlan plan_vacuum(const VacuumInputs &in, const WalPerBlock &same_cycle, const WalPerBlock &after_checkpoint) noexcept;

// The worker sleeps in whole milliseconds (WaitLatch), but the pauses it owes can be fractions of one
// (sleep ratio 0.5 after a 1 ms batch). PauseDebt adds up what is owed and says how many whole
// milliseconds to sleep now; the time actually slept is paid off (sleeping longer than asked leaves a
// credit, up to one second, for the next pauses). On average the pauses are then what was asked for.
struct PauseDebt {
    double owed_ms = 0.0;

    // Add a pause of pause_ms (nonsense counts as none); the whole milliseconds to sleep now.
    long owe(double pause_ms) noexcept;
    // slept_ms were slept.
    void paid(double slept_ms) noexcept;
};

}  // namespace sc
