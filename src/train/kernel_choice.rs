//! The run's kernels (see [`crate::model::kernels`]): what the config names, each `auto`
//! timed on this CPU, once. The choice is remembered per machine and shape in the user's
//! cache (`kernels.json`), so that later runs on the same machine compute alike (a run's
//! figures repeat for a given seed, thread count and machine, as before the timing
//! existed) and start without the timing; deleting the file times again.
//!
//! The file is the program's own, but a planted one is an input like any other: it is
//! read only as a regular file of at most [`MAX_BYTES`], never through a link; anything
//! else is said in the Log and the timing is done without it (and not saved over it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind};

use crate::config::{Config, Dense, Layout};
use crate::files::Dir;
use crate::model::kernels::{self, Kernels};

/// The file in the cache directory.
pub const FILE: &str = "kernels.json";
/// The most the file may hold: far more than every shape a user trains.
pub const MAX_BYTES: u64 = 1 << 20;
/// The lock file writers hold while they add a choice.
const LOCK: &str = ".kernels.lock";

/// One remembered choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    pub dense: Dense,
    pub layout: Layout,
    /// The Log's line of the timing that chose it.
    pub timed: String,
    pub at: String,
}

/// What the run computes with, and the Log's lines about it.
#[derive(Debug)]
pub struct Choice {
    pub kernels: Kernels,
    pub notes: Vec<String>,
    /// What the run's config says from here on (`model.dense`, `model.layout`).
    pub recorded: (Dense, Layout),
}

/// The shape of a timing: what it depends on, and what was named (a choice among two
/// ways is not the choice among four). `cpu` is [`cpu_identity`]'s.
pub fn key(cfg: &Config, threads: usize, compute: Kind, cpu: &str) -> String {
    let mut asked = String::new();
    if cfg.model.dense != Dense::Auto {
        asked += &format!(" · dense {}", cfg.model.dense);
    }
    if cfg.model.layout != Layout::Auto {
        asked += &format!(" · layout {}", cfg.model.layout);
    }
    format!(
        "{} · batch {} · {threads} thread(s) · {compute:?} · libtorch {}{asked} · {cpu}",
        cfg.model.name,
        cfg.training.batch_size,
        crate::store::run_record::LIBTORCH_VERSION
    )
}

/// This CPU as the timing depends on it: its model name, family and model, and the
/// instruction sets the kernels are chosen by (from `/proc/cpuinfo`'s first processor).
pub fn cpu_identity(cpuinfo: &str) -> String {
    let first = cpuinfo.split("\n\n").next().unwrap_or("");
    let field = |name: &str| {
        first
            .lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map_or(String::new(), |(_, v)| v.trim().to_string())
    };
    let flags = field("flags");
    let has: Vec<&str> = ["avx2", "avx512f", "avx512_bf16", "amx_bf16"]
        .into_iter()
        .filter(|f| flags.split_whitespace().any(|x| x == *f))
        .collect();
    format!(
        "{} (family {}, model {}; {})",
        field("model name"),
        field("cpu family"),
        field("model"),
        has.join(" ")
    )
}

/// What the checkpoint of the run in `run_dir` computed with (its config's values), if it
/// can be read; `auto` in a checkpoint from before the timing existed.
pub fn checkpointed(run_dir: &std::path::Path) -> Option<(Dense, Layout)> {
    let dir = Dir::open(run_dir).ok()?;
    let ckpt = crate::store::checkpoint::dir_of(&dir).ok()??;
    let sidecar = crate::store::checkpoint::read_sidecar(&ckpt).ok()??;
    let saved = Config::from_toml(&sidecar.config, &run_dir.join("checkpoint")).ok()?;
    Some((saved.model.dense, saved.model.layout))
}

/// The kernels of a run of `cfg` on `device`, computing in `compute` at `threads`
/// threads: named ones as named; `auto` as remembered for this shape in `cache`, else
/// timed (and remembered). A resumed run (`began`: what its checkpoint computed with)
/// computes as it began: its `auto` is what the checkpoint names, and where that is
/// `auto` too (a checkpoint from before the timing existed) the rule it began with; a
/// GPU's `auto` is the rule too: the choice was never measured there.
pub fn choose(
    cfg: &Config,
    at: (Device, Kind, usize),
    began: Option<(Dense, Layout)>,
    cache: Option<PathBuf>,
) -> Choice {
    let mut asked = (cfg.model.dense, cfg.model.layout);
    if let Some((dense, layout)) = began {
        if asked.0 == Dense::Auto {
            asked.0 = dense;
        }
        if asked.1 == Layout::Auto {
            asked.1 = layout;
        }
    }
    let (kernels, notes) = pick(cfg, asked, at, began.is_some(), cache);
    // A resumed run's config keeps what its checkpoint said (an older one's `auto` stays
    // `auto`, so that its settings compare equal); a new run's records what was chosen.
    let recorded = if began.is_some() {
        asked
    } else {
        (kernels.dense, kernels.layout)
    };
    Choice {
        kernels,
        notes,
        recorded,
    }
}

/// [`choose`]'s kernels and Log lines for the values `asked` (a resumed run's already
/// filled in from its checkpoint: it is not timed).
fn pick(
    cfg: &Config,
    asked: (Dense, Layout),
    (device, compute, threads): (Device, Kind, usize),
    resumed: bool,
    cache: Option<PathBuf>,
) -> (Kernels, Vec<String>) {
    let kind = cfg.model.name;
    let rule = Kernels::or_rule(asked, kind, compute);
    let candidates = kernels::candidates(asked, kind, compute);
    if resumed || device != Device::Cpu || candidates.len() < 2 {
        return (rule, Vec::new());
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let key = key(cfg, threads, compute, &cpu_identity(&cpuinfo));
    let mut notes = Vec::new();
    let store = cache.map(|dir| Store::open(dir, &mut notes));
    let known = store.as_ref().and_then(|s| s.entries.get(&key).cloned());
    if let Some(r) = known.filter(|r| {
        candidates
            .iter()
            .any(|c| (c.dense, c.layout) == (r.dense, r.layout))
    }) {
        notes.push(format!(
            "kernels: dense {}, layout {}, as timed on this machine on {} ({}; delete it \
             to time again)",
            r.dense,
            r.layout,
            r.at,
            store.as_ref().map_or(String::new(), |s| s.shown())
        ));
        let k = Kernels {
            dense: r.dense,
            layout: r.layout,
            compute,
        };
        return (k, notes);
    }
    let timed = kernels::time(kind, &candidates, cfg.training.batch_size, device);
    let Some((chosen, line)) = kernels::fastest(&timed) else {
        return (rule, notes);
    };
    notes.push(line.clone());
    if let Some(mut s) = store {
        let entry = Remembered {
            dense: chosen.dense,
            layout: chosen.layout,
            timed: line,
            at: crate::store::run_record::now_text(),
        };
        if let Err(e) = s.remember(key, entry) {
            notes.push(format!("kernels: not remembered: {e:#}"));
        }
    }
    (chosen, notes)
}

/// The remembered choices in the cache directory.
struct Store {
    dir: PathBuf,
    entries: BTreeMap<String, Remembered>,
    /// Whether the file may be written: not when something other than our own file is
    /// there.
    writable: bool,
}

impl Store {
    /// The choices in `dir`'s file; an unreadable or malformed file is said in `notes`
    /// and counts as none.
    fn open(dir: PathBuf, notes: &mut Vec<String>) -> Store {
        let mut store = Store {
            dir,
            entries: BTreeMap::new(),
            writable: true,
        };
        // No cache directory yet (a fresh account): nothing remembered, and it is made
        // when the choice is.
        if std::fs::symlink_metadata(&store.dir)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            return store;
        }
        let read = Dir::open(&store.dir)
            .and_then(|d| d.read_text(FILE, MAX_BYTES, "remembered kernel choices (JSON)"));
        match read {
            Ok(Some(text)) => match serde_json::from_str(&text) {
                Ok(entries) => store.entries = entries,
                Err(e) => notes.push(format!(
                    "kernels: {} is not what this program wrote ({e}); timing again, \
                     and writing it anew",
                    store.shown()
                )),
            },
            Ok(None) => {}
            Err(e) => {
                store.writable = false;
                notes.push(format!(
                    "kernels: {e:#}; timing without it (and leaving it as it is)"
                ));
            }
        }
        store
    }

    fn shown(&self) -> String {
        crate::escape::path(&self.dir.join(FILE))
    }

    /// Add `entry` to the file, under an exclusive lock (two runs starting at once would
    /// otherwise share the temp file, or one lose the other's entry): the file is read
    /// again under the lock and written with both.
    fn remember(&mut self, key: String, entry: Remembered) -> anyhow::Result<()> {
        if !self.writable {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)?;
        let dir = Dir::open(&self.dir)?;
        let lock = dir.open_rw(LOCK)?;
        // SAFETY: flock on a descriptor we own; released when `lock` is closed.
        if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        let now = dir.read_text(FILE, MAX_BYTES, "remembered kernel choices (JSON)")?;
        if let Some(now) = now.and_then(|t| serde_json::from_str(&t).ok()) {
            self.entries = now;
        }
        self.entries.insert(key, entry);
        let text = serde_json::to_string_pretty(&self.entries)?;
        dir.write(FILE, format!("{text}\n").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelKind;

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n\
        model\t\t: 1\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse avx2 fma\n\n\
        processor\t: 1\nmodel name\t: other\n";

    fn cfg() -> Config {
        let mut c = Config::default();
        c.training.batch_size = 4;
        c
    }

    #[test]
    fn the_cpu_is_named_by_its_first_processor_and_kernel_flags() {
        assert_eq!(
            cpu_identity(CPUINFO),
            "AMD EPYC 7B13 (family 25, model 1; avx2)"
        );
        let mut named = cfg();
        named.model.dense = Dense::Turned;
        let with = key(&named, 2, Kind::Float, "cpu");
        assert!(with.contains(" · dense turned · cpu"), "{with}");
        assert_ne!(with, key(&cfg(), 2, Kind::Float, "cpu"));
        let k = key(&cfg(), 2, Kind::Float, &cpu_identity(CPUINFO));
        assert!(
            k.starts_with("tutorial · batch 4 · 2 thread(s) · Float · libtorch "),
            "{k}"
        );
    }

    #[test]
    fn a_choice_is_timed_once_then_remembered_for_its_shape() {
        let home = tempfile::tempdir().unwrap();
        // The cache directory is made with the first choice.
        let dir = home.path().join("cache").join("fashion-tui");
        let at = (Device::Cpu, Kind::Float, 1);
        let first = choose(&cfg(), at, None, Some(dir.clone()));
        assert_eq!(first.notes.len(), 1, "{:?}", first.notes);
        assert!(first.notes[0].contains("timed at start-up"));
        let again = choose(&cfg(), at, None, Some(dir.clone()));
        assert_eq!(again.kernels, first.kernels);
        assert!(
            again.notes[0].contains("as timed on this machine"),
            "{:?}",
            again.notes
        );
        // Another batch size is another shape: timed anew, both remembered.
        let mut other = cfg();
        other.training.batch_size = 8;
        let third = choose(&other, at, None, Some(dir.clone()));
        assert!(third.notes[0].contains("timed at start-up"));
        let text = std::fs::read_to_string(dir.join(FILE)).unwrap();
        let entries: BTreeMap<String, Remembered> = serde_json::from_str(&text).unwrap();
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn runs_starting_together_each_keep_their_entry() {
        let dir = tempfile::tempdir().unwrap();
        let runs: Vec<_> = (1..=4)
            .map(|b| {
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let mut c = cfg();
                    c.training.batch_size = b;
                    choose(&c, (Device::Cpu, Kind::Float, 1), None, Some(path))
                })
            })
            .collect();
        for r in runs {
            let c = r.join().unwrap();
            assert!(
                !c.notes.iter().any(|n| n.contains("not remembered")),
                "{:?}",
                c.notes
            );
        }
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        let entries: BTreeMap<String, Remembered> = serde_json::from_str(&text).unwrap();
        assert_eq!(entries.len(), 4, "{text}");
    }

    #[test]
    fn named_values_resumed_runs_and_gpus_are_not_timed() {
        let dir = tempfile::tempdir().unwrap();
        let mut named = cfg();
        named.model.dense = Dense::Linear;
        named.model.layout = Layout::ChannelsLast;
        let at = (Device::Cpu, Kind::Float, 1);
        let c = choose(&named, at, None, Some(dir.path().into()));
        assert_eq!(
            (c.kernels.dense, c.kernels.layout),
            (Dense::Linear, Layout::ChannelsLast)
        );
        assert!(c.notes.is_empty());
        // A resumed run: as its checkpoint says, and the rule for an old one's `auto`.
        let began = Some((Dense::Linear, Layout::Auto));
        let resumed = choose(&cfg(), at, began, Some(dir.path().into()));
        assert_eq!(
            (resumed.kernels.dense, resumed.kernels.layout),
            (Dense::Linear, Layout::Contiguous)
        );
        let old = choose(&cfg(), at, Some((Dense::Auto, Layout::Auto)), None);
        assert_eq!(old.kernels, Kernels::rule(ModelKind::Tutorial, Kind::Float));
        // Its config keeps the checkpoint's `auto`; a new run's records the choice.
        assert_eq!(old.recorded, (Dense::Auto, Layout::Auto));
        assert_eq!(c.recorded, (Dense::Linear, Layout::ChannelsLast));
        let gpu = choose(&cfg(), (Device::Cuda(0), Kind::Float, 1), None, None);
        assert_eq!(gpu.kernels, Kernels::rule(ModelKind::Tutorial, Kind::Float));
        assert!(!dir.path().join(FILE).exists());
    }

    #[test]
    fn a_planted_file_is_said_and_left_alone_and_a_malformed_one_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("someone-elses");
        std::fs::write(&elsewhere, "{}").unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join(FILE)).unwrap();
        let at = (Device::Cpu, Kind::Float, 1);
        let c = choose(&cfg(), at, None, Some(dir.path().into()));
        assert!(c.notes[0].contains("leaving it as it is"), "{:?}", c.notes);
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "{}");
        assert!(std::fs::symlink_metadata(dir.path().join(FILE))
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_file(dir.path().join(FILE)).unwrap();
        std::fs::write(dir.path().join(FILE), "not json").unwrap();
        let c = choose(&cfg(), at, None, Some(dir.path().into()));
        assert!(c.notes[0].contains("timing again"), "{:?}", c.notes);
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(serde_json::from_str::<BTreeMap<String, Remembered>>(&text).is_ok());
    }
}
