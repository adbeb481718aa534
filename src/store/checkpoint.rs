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
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{nn, Tensor};

use super::tensors;
use crate::atomic;
use crate::config::Config;
use crate::error::UsageError;
use crate::files::{Dir, MB};

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

fn tensors_file(generation: u64) -> String {
    format!("ckpt-{generation}.safetensors")
}

/// The SHA-256 of `name` in `dir` (lowercase hex), read through the directory's handle.
fn sha256_file(dir: &Dir, name: &str) -> Result<String> {
    let (mut f, _) = dir
        .open_file(name)?
        .with_context(|| format!("{} is missing", dir.join(name).display()))?;
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

/// What each sidecar field must be, for naming the one that is not.
const FIELDS: [(&str, &str); 15] = [
    ("format_version", "whole"),
    ("generation", "whole"),
    ("tensors_sha256", "text"),
    ("model", "text"),
    ("epoch", "whole"),
    ("batch", "whole"),
    ("step", "integer"),
    ("seed", "whole"),
    ("lr", "number"),
    ("weight_decay", "number"),
    ("momentum", "number"),
    ("epoch_loss_sum", "number"),
    ("epoch_correct", "integer"),
    ("total_batches", "optional whole"),
    ("config", "text"),
];

/// The sidecar's fields that are missing or of the wrong type, in words.
fn field_problems(v: &serde_json::Value) -> Vec<String> {
    FIELDS
        .iter()
        .filter_map(|&(name, kind)| {
            let f = &v[name];
            let ok = match kind {
                "whole" => f.is_u64(),
                "optional whole" => f.is_null() || f.is_u64(),
                "integer" => f.is_i64() || f.is_u64(),
                "number" => f.is_number(),
                _ => f.is_string(),
            };
            if ok {
                return None;
            }
            let words = match kind {
                "whole" | "optional whole" => "a whole number",
                "integer" => "an integer",
                "number" => "a number",
                _ => "text",
            };
            Some(match f {
                serde_json::Value::Null if kind != "optional whole" => format!("{name} is missing"),
                other => {
                    // JSON text: control characters come escaped; a long value is cut.
                    let text = other.to_string();
                    let shown: String = text.chars().take(60).collect();
                    let cut = if shown.len() < text.len() { "…" } else { "" };
                    format!("{name} = {shown}{cut} is not {words}")
                }
            })
        })
        .collect()
}

/// The most `checkpoint.json` holds: the scalars and the run's config.
const SIDECAR_BOUND: u64 = MB;

/// Read the sidecar of the checkpoint in `dir`, if any. One that is not JSON is damaged
/// (exit 1); one whose fields are missing or of the wrong type does not fit its run (exit
/// 2, the fields named).
pub fn read_sidecar(dir: &Dir) -> Result<Option<Sidecar>> {
    let path = dir.join(SIDECAR);
    let Some(text) = dir.read_text(SIDECAR, SIDECAR_BOUND, "a checkpoint's scalars")? else {
        return Ok(None);
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
    let problems = field_problems(&version);
    if !problems.is_empty() {
        return Err(refuse(problems).unwrap_err().into());
    }
    let sidecar = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} has missing or malformed fields (corrupt checkpoint)",
            path.display()
        )
    })?;
    Ok(Some(sidecar))
}

/// The checkpoint directory of the run in `run`, when it has one (a link there is
/// refused, not followed).
pub fn dir_of(run: &Dir) -> Result<Option<Dir>> {
    if !run.has(DIR) {
        return Ok(None);
    }
    run.sub(DIR).map(Some)
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

/// Whether the run in `run` holds a checkpoint of ours, committed or not (temp files
/// aside); a link named `checkpoint` counts (it is refused when used).
pub fn has_files(run: &Dir) -> bool {
    match run.kind(DIR) {
        None => false,
        Some("a directory") => run.sub(DIR).is_ok_and(|d| {
            d.has(SIDECAR)
                || d.names()
                    .is_ok_and(|names| names.iter().any(|n| generation_of(n).is_some()))
        }),
        Some(_) => true,
    }
}

/// Delete every checkpoint file of ours in the run in `run` (sidecar, generations, temp
/// files), and the checkpoint directory when nothing else is left in it. A `checkpoint`
/// that is a link is refused, not followed.
pub fn remove_all(run: &Dir) -> Result<()> {
    let Some(dir) = dir_of(run)? else {
        return Ok(());
    };
    clean(&dir, None);
    dir.remove(SIDECAR)
        .with_context(|| format!("cannot delete {}", dir.join(SIDECAR).display()))?;
    run.remove_dir(DIR);
    Ok(())
}

fn generation_of(name: &str) -> Option<u64> {
    name.strip_prefix("ckpt-")
        .and_then(|r| r.strip_suffix(".safetensors"))
        .and_then(|g| g.parse::<u64>().ok())
}

/// The most recently created run directory under `root` that holds a checkpoint (what
/// `train --resume` without a directory continues). Links under `root` are passed over.
pub fn latest_run(root: &Path) -> Option<PathBuf> {
    let root_dir = Dir::open(root).ok()?;
    let mut runs: Vec<(std::time::SystemTime, PathBuf)> = root_dir
        .names()
        .ok()?
        .into_iter()
        .filter(|n| root_dir.kind(n) == Some("a directory"))
        .filter_map(|n| {
            let run = root_dir.sub(&n).ok()?;
            let ckpt = dir_of(&run).ok()??;
            ckpt.has(SIDECAR).then(|| root.join(&n))
        })
        .filter_map(|p| Some((p.symlink_metadata().ok()?.modified().ok()?, p)))
        .collect();
    runs.sort();
    runs.pop().map(|(_, p)| p)
}

/// Write a new checkpoint generation into `dir` and commit it.
pub fn save(
    dir: &Dir,
    vs: &nn::VarStore,
    optimizer_state: Vec<(String, Tensor)>,
    sidecar: Sidecar,
) -> Result<()> {
    save_hooked(dir, vs, optimizer_state, sidecar, &mut || {})
}

/// [`save`], calling `before_commit` between writing the tensors and committing the
/// sidecar (where a crash is most interesting; used by fault-injection tests).
pub fn save_hooked(
    dir: &Dir,
    vs: &nn::VarStore,
    optimizer_state: Vec<(String, Tensor)>,
    mut sidecar: Sidecar,
    before_commit: &mut dyn FnMut(),
) -> Result<()> {
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
    let name = tensors_file(sidecar.generation);
    tensors::write(dir, &name, &named).map_err(|e| {
        atomic::explain(
            e,
            format!("cannot write checkpoint {}", dir.join(&name).display()),
        )
    })?;
    sidecar.tensors_sha256 = sha256_file(dir, &name)?;
    before_commit();
    let json = serde_json::to_vec_pretty(&sidecar)?;
    if let Err(e) = dir.write(SIDECAR, &json) {
        let _ = dir.remove(&name);
        let doing = format!("cannot commit checkpoint in {}", dir.path().display());
        return Err(atomic::explain(e, doing));
    }
    clean(dir, Some(sidecar.generation));
    Ok(())
}

/// Remove temp files and every generation but `keep`.
pub fn clean(dir: &Dir, keep: Option<u64>) {
    let Ok(names) = dir.names() else {
        return;
    };
    for name in names {
        let is_temp = name.starts_with('.') && name.contains(".tmp");
        let stale = generation_of(&name).is_some_and(|g| Some(g) != keep);
        if is_temp || stale {
            let _ = dir.remove(&name);
        }
    }
}

/// A loaded checkpoint: tensors by name, verified against the sidecar.
pub struct Loaded {
    pub sidecar: Sidecar,
    pub tensors: HashMap<String, Tensor>,
}

/// Load and verify the checkpoint in `dir` (never pickle: safetensors only).
pub fn load(dir: &Dir) -> Result<Loaded> {
    let sidecar = read_sidecar(dir)?.with_context(|| {
        format!(
            "no checkpoint in {} ({SIDECAR} is missing)",
            dir.path().display()
        )
    })?;
    let name = tensors_file(sidecar.generation);
    let actual = sha256_file(dir, &name)?;
    if actual != sidecar.tensors_sha256 {
        bail!(
            "{} is damaged: its SHA-256 is {actual}, the checkpoint recorded {}",
            dir.join(&name).display(),
            sidecar.tensors_sha256
        );
    }
    let tensors = tensors::read(dir, &name)?
        .with_context(|| format!("{} is missing", dir.join(&name).display()))?
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

/// Load a `.safetensors` weights file the user named into `vs`, checked first (used by
/// `eval`, `predict` and `view`): a regular file, its header read and checked before its
/// data, every variable present with its shape.
pub fn load_weights(vs: &mut nn::VarStore, path: &Path) -> Result<()> {
    let given: HashMap<String, Tensor> = tensors::read_path(path)?.into_iter().collect();
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
    use std::fs;
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
        let d = Dir::open(dir.path()).unwrap();
        let vs = store();
        let opt = Optim::new(&Training::default(), &vs);
        save(&d, &vs, opt.state(), sidecar()).unwrap();
        save(&d, &vs, opt.state(), sidecar()).unwrap();
        let loaded = load(&d).unwrap();
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
        let d = Dir::open(dir.path()).unwrap();
        let vs = store();
        save(&d, &vs, Vec::new(), sidecar()).unwrap();
        let file = dir.path().join("ckpt-1.safetensors");
        let mut bytes = fs::read(&file).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&file, &bytes).unwrap();
        let err = load(&d).err().unwrap().to_string();
        assert!(err.contains("is damaged"), "{err}");
        fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
        assert!(load(&d).is_err());
        fs::write(dir.path().join(SIDECAR), b"{\"format_version\": 1").unwrap();
        let err = format!("{:#}", load(&d).err().unwrap());
        assert!(err.contains("corrupt checkpoint"), "{err}");
        fs::write(dir.path().join(SIDECAR), b"{\"format_version\": 99}").unwrap();
        let err = format!("{:#}", load(&d).err().unwrap());
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
        let d = Dir::open(dir.path()).unwrap();
        let vs = store();
        save(&d, &vs, Vec::new(), sidecar()).unwrap();
        // A later save died after writing its tensors but before the sidecar rename.
        fs::write(dir.path().join("ckpt-2.safetensors"), b"partial").unwrap();
        fs::write(dir.path().join(".ckpt-3.tmp.safetensors"), b"partial").unwrap();
        fs::write(dir.path().join(".checkpoint.json.tmp"), b"{").unwrap();
        let loaded = load(&d).unwrap();
        assert_eq!(loaded.sidecar.generation, 1);
        clean(&d, Some(1));
        let left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut left = left;
        left.sort();
        assert_eq!(left, ["checkpoint.json", "ckpt-1.safetensors"]);
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = Dir::open(dir.path()).unwrap();
        let mut v = serde_json::to_value(sidecar()).unwrap();
        v["generation"] = 1.into();
        v["epoch"] = "2".into();
        v.as_object_mut().unwrap().remove("seed");
        fs::write(dir.path().join(SIDECAR), v.to_string()).unwrap();
        let e = read_sidecar(&d).unwrap_err();
        assert!(crate::error::is_usage(&e), "{e:#}");
        let e = e.to_string();
        assert!(e.contains("epoch = \"2\" is not a whole number"), "{e}");
        assert!(e.contains("seed is missing"), "{e}");
    }
}
