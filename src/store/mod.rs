//! Run storage: everything a run directory holds and every reader and writer of it, used
//! alike by the trainer, `runs`, `view`, `report`, `eval` and an attached dashboard.
//!
//! - [`run`]: a run directory as the trainer writes it, every write in one place;
//! - [`run_dir`]: the directory's files by name, claiming and locking it (one process per
//!   run), creating a new one;
//! - [`metrics`]: `metrics.jsonl`, one line per epoch;
//! - [`run_record`]: `run.json` (status, times, progress, best epoch);
//! - [`losses`]: `loss.jsonl`, the per-batch loss;
//! - [`checkpoint`]: the exact position to resume from;
//! - [`catalog`]: the runs under a directory, one summary each (for `runs`);
//! - [`history`]: one run read back whole, as the trainer's own events (for `view`);
//! - [`tensors`]: model and checkpoint files (`.safetensors`), written and read here.

pub mod catalog;
pub mod checkpoint;
pub mod history;
pub mod losses;
pub mod metrics;
pub mod run;
pub mod run_dir;
pub mod run_record;
pub mod tensors;
