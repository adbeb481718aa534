//! Checkpoints: everything needed to continue a run exactly where it stopped.
//!
//! A checkpoint is a generation `ckpt-<n>.safetensors` (model weights and BatchNorm
//! statistics as `model.<name>`, optimiser moments as `opt.m.<name>` / `opt.v.<name>`, the
//! moving average of the weights as `ema.<name>`) plus `checkpoint.json`, the small
//! sidecar with the scalars (format version, position, step, hyperparameters, the resolved
//! config and the SHA-256 of the tensor file). The sidecar is written last, atomically: it is
//! the commit point, so a crash at any moment leaves the previous checkpoint intact. Older
//! generations and orphaned temp files are removed once a newer one is committed.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{nn, Tensor};

use crate::atomic;
use crate::config::Config;
use crate::error::UsageError;

/// Bumped whenever the layout changes; older checkpoints are refused with a message.
pub const FORMAT_VERSION: u32 = 1;
pub const SIDECAR: &str = "checkpoint.json";
/// The checkpoint's directory inside a run directory.
pub const DIR: &str = "checkpoint";

/// The scalars of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    pub format_version: u32,
    /// Which `ckpt-<n>.safetensors` holds the tensors.
    pub generation: u64,
    pub tensors_sha256: String,
    pub model: String,
    /// Epochs fully completed.
    pub epoch: usize,
    /// Batches done in epoch `epoch` (0 at an epoch boundary).
    pub batch: usize,
    /// Optimiser steps taken in the whole run; dropout is seeded from (seed, step).
    pub step: i64,
    pub seed: u64,
    pub lr: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    /// Running sums of the epoch in progress, so its metrics come out the same.
    pub epoch_loss_sum: f64,
    pub epoch_correct: i64,
    /// Batches in the whole run, when a time budget fixed it (the schedule depends on it).
    #[serde(default)]
    pub total_batches: Option<usize>,
    /// The resolved config of the run (TOML).
    pub config: String,
}

fn tensors_file(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("ckpt-{generation}.safetensors"))
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// Read the sidecar of the checkpoint in `dir`, if any.
pub fn read_sidecar(dir: &Path) -> Result<Option<Sidecar>> {
    let path = dir.join(SIDECAR);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let version: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON (corrupt checkpoint)", path.display()))?;
    let found = version.get("format_version");
    if found.and_then(|v| v.as_u64()) != Some(u64::from(FORMAT_VERSION)) {
        let found = found.map_or_else(
            || "no format_version".into(),
            |v| format!("checkpoint format {v}"),
        );
        return Err(UsageError(format!(
            "{} has {found}; this fashion-tui reads checkpoint format {FORMAT_VERSION}",
            path.display()
        ))
        .into());
    }
    let sidecar = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} has missing or malformed fields (corrupt checkpoint)",
            path.display()
        )
    })?;
    Ok(Some(sidecar))
}

impl Sidecar {
    /// Refuse fields that do not fit the run whose config (`saved`, the sidecar's own)
    /// and `metrics.jsonl` (`recorded` epochs) are given, naming the field. The position
    /// within an epoch is checked against the data by [`check_position`](Self::check_position).
    pub fn check(&self, saved: &Config, recorded: usize) -> Result<(), UsageError> {
        let mut bad = Vec::new();
        let model = saved.model.name.to_string();
        if self.model != model {
            bad.push(format!(
                "model = {:?}, but the run trains {model:?}",
                self.model
            ));
        }
        if self.seed != saved.training.seed {
            bad.push(format!(
                "seed = {}, but the run's seed is {}",
                self.seed, saved.training.seed
            ));
        }
        // An epoch in progress counts; a run shortened live below its position saves its
        // position as its length, and `metrics.jsonl` recorded the epochs done.
        let reached = self.epoch.saturating_add(usize::from(self.batch > 0));
        let epochs = saved.training.epochs.max(recorded);
        if reached > epochs {
            bad.push(format!(
                "epoch = {} (batch {}) is beyond the run's {epochs} epochs",
                self.epoch, self.batch
            ));
        }
        if self.generation == 0 {
            bad.push("generation = 0 (generations start at 1)".into());
        }
        if self.step < 0 {
            bad.push(format!("step = {} is negative", self.step));
        }
        for (name, v) in [
            ("lr", self.lr),
            ("weight_decay", self.weight_decay),
            ("momentum", self.momentum),
            ("epoch_loss_sum", self.epoch_loss_sum),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                bad.push(format!("{name} = {v} is not a finite number ≥ 0"));
            }
        }
        if self.epoch_correct < 0 {
            bad.push(format!(
                "epoch_correct = {} is negative",
                self.epoch_correct
            ));
        }
        if self.batch == 0 && (self.epoch_correct != 0 || self.epoch_loss_sum != 0.0) {
            bad.push(format!(
                "epoch_correct = {} and epoch_loss_sum = {} at the start of an epoch (batch 0)",
                self.epoch_correct, self.epoch_loss_sum
            ));
        }
        refuse(bad)
    }

    /// Refuse a position beyond an epoch of `batches` batches of `batch_size` out of
    /// `images`, as the run's config and data make it.
    pub fn check_position(
        &self,
        batches: usize,
        batch_size: usize,
        images: usize,
    ) -> Result<(), UsageError> {
        let mut bad = Vec::new();
        if self.batch > batches {
            bad.push(format!(
                "batch = {} is beyond the run's {batches} batches per epoch",
                self.batch
            ));
        }
        // A time budget's plan covers at least the batches already done.
        let done = self
            .epoch
            .saturating_mul(batches)
            .saturating_add(self.batch);
        if let Some(total) = self.total_batches.filter(|&t| t == 0 || t < done) {
            bad.push(format!(
                "total_batches = {total} is fewer than the {done} batches already trained \
                 (or zero)"
            ));
        }
        let seen = self.batch.saturating_mul(batch_size).min(images);
        if self.epoch_correct > seen as i64 {
            bad.push(format!(
                "epoch_correct = {} is more than the {seen} images trained on in the epoch",
                self.epoch_correct
            ));
        }
        refuse(bad)
    }
}

fn refuse(bad: Vec<String>) -> Result<(), UsageError> {
    if bad.is_empty() {
        return Ok(());
    }
    Err(UsageError(format!(
        "{SIDECAR} does not fit this run: {} (edited by hand, or another run's file); not \
         resuming from it",
        bad.join("; ")
    )))
}

/// Whether `dir` holds a checkpoint of ours, committed or not (temp files aside).
pub fn has_files(dir: &Path) -> bool {
    dir.join(SIDECAR).exists()
        || fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| generation_of(&e.file_name().to_string_lossy()).is_some())
        })
}

/// Delete every checkpoint file of ours in `dir` (sidecar, generations, temp files), and
/// the directory when nothing else is left in it.
pub fn remove_all(dir: &Path) -> Result<()> {
    clean(dir, None);
    match fs::remove_file(dir.join(SIDECAR)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot delete {}", dir.join(SIDECAR).display()))
        }
    }
    let _ = fs::remove_dir(dir);
    Ok(())
}

fn generation_of(name: &str) -> Option<u64> {
    name.strip_prefix("ckpt-")
        .and_then(|r| r.strip_suffix(".safetensors"))
        .and_then(|g| g.parse::<u64>().ok())
}

/// The most recently created run directory under `root` that holds a checkpoint (what
/// `train --resume` without a directory continues).
pub fn latest_run(root: &Path) -> Option<PathBuf> {
    let mut runs: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(DIR).join(SIDECAR).is_file())
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    runs.sort();
    runs.pop().map(|(_, p)| p)
}

/// Write a new checkpoint generation into `dir` and commit it.
pub fn save(
    dir: &Path,
    vs: &nn::VarStore,
    optimizer_state: Vec<(String, Tensor)>,
    sidecar: Sidecar,
) -> Result<()> {
    save_hooked(dir, vs, optimizer_state, sidecar, &mut || {})
}

/// [`save`], calling `before_commit` between writing the tensors and committing the
/// sidecar (where a crash is most interesting; used by fault-injection tests).
pub fn save_hooked(
    dir: &Path,
    vs: &nn::VarStore,
    optimizer_state: Vec<(String, Tensor)>,
    mut sidecar: Sidecar,
    before_commit: &mut dyn FnMut(),
) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let previous = read_sidecar(dir).ok().flatten().map(|s| s.generation);
    sidecar.generation = previous.map_or(1, |g| g + 1);
    sidecar.format_version = FORMAT_VERSION;
    let mut named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(k, v)| (format!("model.{k}"), v))
        .collect();
    named.extend(optimizer_state);
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let final_path = tensors_file(dir, sidecar.generation);
    let tmp = dir.join(format!(".ckpt-{}.tmp.safetensors", sidecar.generation));
    atomic::write_with(&final_path, &tmp, |tmp| {
        Ok::<_, anyhow::Error>(Tensor::write_safetensors(&named, tmp)?)
    })
    .map_err(|e| {
        atomic::explain(
            e,
            format!("cannot write checkpoint {}", final_path.display()),
        )
    })?;
    sidecar.tensors_sha256 = sha256_file(&final_path)?;
    before_commit();
    let json = serde_json::to_vec_pretty(&sidecar)?;
    if let Err(e) = atomic::write(&dir.join(SIDECAR), &json) {
        let _ = fs::remove_file(&final_path);
        let doing = format!("cannot commit checkpoint in {}", dir.display());
        return Err(atomic::explain(e.into(), doing));
    }
    clean(dir, Some(sidecar.generation));
    Ok(())
}

/// Remove temp files and every generation but `keep`.
pub fn clean(dir: &Path, keep: Option<u64>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let is_temp = name.starts_with('.') && name.contains(".tmp");
        let stale = generation_of(&name).is_some_and(|g| Some(g) != keep);
        if is_temp || stale {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// A loaded checkpoint: tensors by name, verified against the sidecar.
pub struct Loaded {
    pub sidecar: Sidecar,
    pub tensors: HashMap<String, Tensor>,
}

/// Load and verify the checkpoint in `dir` (never pickle: safetensors only).
pub fn load(dir: &Path) -> Result<Loaded> {
    let sidecar = read_sidecar(dir)?
        .with_context(|| format!("no checkpoint in {} ({SIDECAR} is missing)", dir.display()))?;
    let path = tensors_file(dir, sidecar.generation);
    let actual = sha256_file(&path)?;
    if actual != sidecar.tensors_sha256 {
        bail!(
            "{} is damaged: its SHA-256 is {actual}, the checkpoint recorded {}",
            path.display(),
            sidecar.tensors_sha256
        );
    }
    let tensors = Tensor::read_safetensors(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .into_iter()
        .collect();
    Ok(Loaded { sidecar, tensors })
}

/// Copy `model.*` tensors into `vs`, refusing missing, extra or misshapen ones before
/// touching any variable. Returns the tensors that are not model weights.
pub fn restore_model(
    vs: &mut nn::VarStore,
    mut tensors: HashMap<String, Tensor>,
) -> Result<HashMap<String, Tensor>> {
    let vars = vs.variables();
    let mut model: HashMap<String, Tensor> = HashMap::new();
    let keys: Vec<String> = tensors.keys().cloned().collect();
    for k in keys {
        if let Some(name) = k.strip_prefix("model.") {
            let name = name.to_string();
            if let Some(t) = tensors.remove(&k) {
                model.insert(name, t);
            }
        }
    }
    check_tensors(&vars, &model)?;
    let _guard = tch::no_grad_guard();
    for (name, mut var) in vars {
        var.copy_(&model[&name]);
    }
    Ok(tensors)
}

/// Tensors that are not this model's: another architecture's weights (the list says
/// what differs).
#[derive(Debug, thiserror::Error)]
#[error("the tensors do not fit this model: {0}")]
pub struct Mismatch(pub String);

/// Every variable present with its shape and dtype, nothing extra.
pub fn check_tensors(
    vars: &HashMap<String, Tensor>,
    given: &HashMap<String, Tensor>,
) -> Result<()> {
    let mut problems = Vec::new();
    for (name, v) in vars {
        match given.get(name) {
            None => problems.push(format!("missing {name}")),
            Some(t) if t.size() != v.size() => problems.push(format!(
                "{name} has shape {:?}, expected {:?}",
                t.size(),
                v.size()
            )),
            Some(t) if t.kind() != v.kind() => {
                problems.push(format!("{name} is {:?}, expected {:?}", t.kind(), v.kind()))
            }
            Some(_) => {}
        }
    }
    for name in given.keys() {
        if !vars.contains_key(name) {
            problems.push(format!("unexpected {name}"));
        }
    }
    if !problems.is_empty() {
        problems.sort();
        return Err(Mismatch(problems.join(", ")).into());
    }
    Ok(())
}

/// Load a `.safetensors` weights file into `vs`, checked first (used by `eval`).
pub fn load_weights(vs: &mut nn::VarStore, path: &Path) -> Result<()> {
    // The file's own trouble first, in the system's words (the safetensors reader's
    // are its enum's names: `IoError(Os { .. })`, `HeaderTooSmall`).
    fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let given: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|e| {
            anyhow::anyhow!(
                "{} is not a readable safetensors file (damaged or of another kind): {e}",
                path.display()
            )
        })?
        .into_iter()
        .collect();
    let vars = vs.variables();
    check_tensors(&vars, &given)?;
    let _guard = tch::no_grad_guard();
    for (name, mut var) in vars {
        var.copy_(&given[&name]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Training;
    use crate::train::optim::Optim;
    use tch::{Device, Kind};

    fn store() -> nn::VarStore {
        let vs = nn::VarStore::new(Device::Cpu);
        let _ = nn::linear(vs.root() / "fc", 4, 3, Default::default());
        vs
    }

    fn sidecar() -> Sidecar {
        Sidecar {
            format_version: FORMAT_VERSION,
            generation: 0,
            tensors_sha256: String::new(),
            model: "tutorial".into(),
            epoch: 2,
            batch: 5,
            step: 77,
            seed: 42,
            lr: 0.001,
            weight_decay: 0.0,
            momentum: 0.9,
            epoch_loss_sum: 1.5,
            epoch_correct: 3,
            total_batches: None,
            config: "[training]\n".into(),
        }
    }

    #[test]
    fn a_budget_plan_short_of_the_position_is_refused() {
        // Position: epoch 2, batch 5, at 10 batches an epoch = 25 batches done.
        let mut sc = sidecar();
        assert!(sc.check_position(10, 4, 40).is_ok());
        for (total, ok) in [
            (Some(25), true),
            (Some(300), true),
            (Some(24), false),
            (Some(0), false),
        ] {
            sc.total_batches = total;
            let r = sc.check_position(10, 4, 40);
            assert_eq!(r.is_ok(), ok, "{total:?}: {r:?}");
            if let Err(e) = r {
                assert!(e.to_string().contains("total_batches"), "{e}");
            }
        }
    }

    #[test]
    fn save_load_round_trip_keeps_one_generation() {
        let dir = tempfile::tempdir().unwrap();
        let vs = store();
        let opt = Optim::new(&Training::default(), &vs);
        save(dir.path(), &vs, opt.state(), sidecar()).unwrap();
        save(dir.path(), &vs, opt.state(), sidecar()).unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.sidecar.generation, 2);
        assert_eq!(loaded.sidecar.step, 77);
        assert!(!dir.path().join("ckpt-1.safetensors").exists());
        let mut other = store();
        let rest = restore_model(&mut other, loaded.tensors).unwrap();
        assert!(rest.keys().all(|k| k.starts_with("opt.")));
        for (name, v) in vs.variables() {
            assert!(v.equal(&other.variables()[&name]));
        }
    }

    #[test]
    fn tampered_and_truncated_tensors_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let vs = store();
        save(dir.path(), &vs, Vec::new(), sidecar()).unwrap();
        let file = dir.path().join("ckpt-1.safetensors");
        let mut bytes = fs::read(&file).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&file, &bytes).unwrap();
        let err = load(dir.path()).err().unwrap().to_string();
        assert!(err.contains("is damaged"), "{err}");
        fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
        assert!(load(dir.path()).is_err());
        fs::write(dir.path().join(SIDECAR), b"{\"format_version\": 1").unwrap();
        let err = format!("{:#}", load(dir.path()).err().unwrap());
        assert!(err.contains("corrupt checkpoint"), "{err}");
        fs::write(dir.path().join(SIDECAR), b"{\"format_version\": 99}").unwrap();
        let err = format!("{:#}", load(dir.path()).err().unwrap());
        assert!(err.contains("has checkpoint format 99;"), "{err}");
    }

    #[test]
    fn wrong_tensors_are_refused_before_touching_the_model() {
        let mut vs = store();
        let before: Vec<Tensor> = vs.trainable_variables().iter().map(|t| t.copy()).collect();
        let mut given = HashMap::new();
        given.insert(
            "model.fc.weight".to_string(),
            Tensor::zeros([3, 5], (Kind::Float, Device::Cpu)),
        );
        given.insert(
            "model.extra".to_string(),
            Tensor::zeros([1], (Kind::Float, Device::Cpu)),
        );
        let err = restore_model(&mut vs, given).err().unwrap().to_string();
        assert!(
            err.contains("fc.weight has shape [3, 5], expected [3, 4]"),
            "{err}"
        );
        assert!(err.contains("missing fc.bias"), "{err}");
        assert!(err.contains("unexpected extra"), "{err}");
        for (a, b) in vs.trainable_variables().iter().zip(&before) {
            assert!(a.equal(b), "model was modified");
        }
    }

    #[test]
    fn a_crash_before_the_commit_keeps_the_previous_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let vs = store();
        save(dir.path(), &vs, Vec::new(), sidecar()).unwrap();
        // A later save died after writing its tensors but before the sidecar rename.
        fs::write(dir.path().join("ckpt-2.safetensors"), b"partial").unwrap();
        fs::write(dir.path().join(".ckpt-3.tmp.safetensors"), b"partial").unwrap();
        fs::write(dir.path().join(".checkpoint.json.tmp"), b"{").unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.sidecar.generation, 1);
        clean(dir.path(), Some(1));
        let left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut left = left;
        left.sort();
        assert_eq!(left, ["checkpoint.json", "ckpt-1.safetensors"]);
    }
}
