//! Hot reload of the config file in use: [`Watch`] notices when its content changes
//! (polled by the dashboard's loop about once a second, by a hash of the content, so a
//! touch or our own save is not a change), and [`layer`], the same layering as at
//! start-up, turns the new text into the effective configuration with the command-line
//! flags re-applied on top, validated. What then applies live and what waits for the next
//! run is [`crate::config::params::plan`]'s business.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use crate::config::layer::layer;
use crate::config::Config;
use crate::error::UsageError;

fn hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Watches one file for changes of content.
#[derive(Debug)]
pub struct Watch {
    path: PathBuf,
    /// Hash of the content last seen (or written by us).
    content: Option<u64>,
    /// A read failure was reported and the file has not been readable since.
    failing: bool,
}

impl Watch {
    /// Watch `path`, taking what is there now as seen.
    pub fn new(path: &Path) -> Watch {
        let mut w = Watch {
            path: path.to_path_buf(),
            content: None,
            failing: false,
        };
        if let Ok(text) = Config::read_text(path) {
            w.remember(text.as_bytes());
        }
        w
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take `bytes` as the file's current content (after writing them ourselves), so that
    /// the next [`Watch::poll`] does not report our own write as a change.
    pub fn remember(&mut self, bytes: &[u8]) {
        self.content = Some(hash(bytes));
        self.failing = false;
    }

    /// The file's text if its content changed since last seen; an error (once, until it
    /// is readable again) if it can no longer be read; `None` otherwise.
    ///
    /// Changes are found by content, never by timestamps: on kernels before 6.13 two
    /// writes within a clock tick get the same modification time, and an edit that keeps
    /// the length would go unseen. A config file is small (and [`Config::read_text`]
    /// refuses a large one or anything but a regular file), so reading it once a second
    /// costs nothing.
    pub fn poll(&mut self) -> Option<Result<String, UsageError>> {
        match Config::read_text(&self.path) {
            Err(e) => (!std::mem::replace(&mut self.failing, true)).then_some(Err(e)),
            Ok(text) => {
                self.failing = false;
                let h = hash(text.as_bytes());
                if self.content == Some(h) {
                    return None;
                }
                self.content = Some(h);
                Some(Ok(text))
            }
        }
    }
}

/// The dashboard's link to the config file: the watch (none while built-in defaults are
/// in use) and the command-line flags to re-apply over every new version.
pub struct Reloader {
    watch: Option<Watch>,
    overrides: Box<dyn Fn(&mut Config) + Send>,
}

impl Reloader {
    /// Watch `path` (if any), re-applying `overrides` over each new version of it.
    pub fn new(path: Option<&Path>, overrides: impl Fn(&mut Config) + Send + 'static) -> Self {
        Reloader {
            watch: path.map(Watch::new),
            overrides: Box::new(overrides),
        }
    }

    /// A reloader that watches nothing and overrides nothing (tests, embedding).
    pub fn none() -> Self {
        Reloader::new(None, |_| {})
    }

    pub fn path(&self) -> Option<&Path> {
        self.watch.as_ref().map(Watch::path)
    }

    /// The new effective configuration if the file changed, or why it cannot be used.
    pub fn check(&mut self) -> Option<Result<Config, UsageError>> {
        let watch = self.watch.as_mut()?;
        let text = watch.poll()?;
        Some(text.and_then(|t| layer(&t, watch.path(), &*self.overrides)))
    }

    /// Save `keys` of `cfg` into `path` (see [`crate::config::edit::save`]) and watch it
    /// from now on, without taking the write for a change.
    pub fn save(&mut self, path: &Path, cfg: &Config, keys: &[&str]) -> Result<(), UsageError> {
        let bytes = crate::config::edit::save(path, cfg, keys)?;
        match &mut self.watch {
            Some(w) if w.path() == path => w.remember(&bytes),
            _ => {
                let mut w = Watch::new(path);
                w.remember(&bytes);
                self.watch = Some(w);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::TrainArgs;

    fn cli(lr: Option<f64>, epochs: Option<usize>) -> TrainArgs {
        let mut args = TrainArgs::default();
        let given = &mut args.settings.given;
        given.extend(lr.map(|v| ("training.lr", v.to_string())));
        given.extend(epochs.map(|v| ("training.epochs", v.to_string())));
        args
    }

    #[test]
    fn layering_puts_flags_over_the_file_over_the_defaults() {
        let args = cli(Some(0.01), None);
        let c = layer(
            "[training]\nlr = 0.5\nepochs = 4\n",
            Path::new("c.toml"),
            &|c| args.apply(c),
        )
        .unwrap();
        assert_eq!(c.training.lr, 0.01, "flag over file");
        assert_eq!(c.training.epochs, 4, "file over default");
        assert_eq!(c.training.batch_size, 32, "default");
        // A flag can fix what the file gets wrong, and validation sees the result.
        let args = cli(None, Some(2));
        let c = layer("[training]\nepochs = 0\n", Path::new("c.toml"), &|c| {
            args.apply(c)
        });
        assert_eq!(c.unwrap().training.epochs, 2);
        let e = layer("[training]\nlr = -1.0\n", Path::new("c.toml"), &|c| {
            cli(None, Some(2)).apply(c)
        });
        // From the file: reported at its place there.
        assert!(e.unwrap_err().0.starts_with("c.toml:2:6: training.lr = -1"));
    }

    #[test]
    fn a_reload_sees_valid_and_invalid_edits_keeps_flags_and_ignores_its_own_saves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[training]\nlr = 0.001\nepochs = 10\n").unwrap();
        let args = cli(None, Some(3));
        let mut r = Reloader::new(Some(&path), move |c| args.apply(c));
        assert_eq!(r.check(), None, "nothing changed yet");

        // A valid edit: the new value, with the --epochs flag still on top.
        std::fs::write(&path, "[training]\nlr = 0.0005\nepochs = 10\n").unwrap();
        let c = r.check().unwrap().unwrap();
        assert_eq!((c.training.lr, c.training.epochs), (0.0005, 3));
        assert_eq!(r.check(), None, "reported once");

        // An invalid edit: the reason, naming file, line and column.
        std::fs::write(&path, "[training]\nlr = \"fast\"\nepochs = 10\n").unwrap();
        let e = r.check().unwrap().unwrap_err();
        assert!(
            e.0.contains("config.toml:2:6: invalid type: string \"fast\""),
            "{e}"
        );
        std::fs::write(&path, "[training]\nlr = 0.0\n").unwrap();
        let e = r.check().unwrap().unwrap_err();
        assert!(
            e.0.ends_with(
                "config.toml:2:6: training.lr = 0 is out of range: allowed a finite \
                           number > 0 and ≤ 10"
            ),
            "{e}"
        );

        // Rewriting the same content is no change.
        std::fs::write(&path, "[training]\nlr = 0.0\n").unwrap();
        assert_eq!(r.check(), None);

        // Our own save is not reported back.
        let mut cfg = Config::default();
        cfg.training.lr = 0.002;
        r.save(&path, &cfg, &["training.lr"]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[training]\nlr = 0.002\n"
        );
        assert_eq!(r.check(), None);

        // A vanished file is reported once, and its return is a change.
        std::fs::remove_file(&path).unwrap();
        assert!(r.check().unwrap().unwrap_err().0.contains("cannot read"));
        assert_eq!(r.check(), None);
        std::fs::write(&path, "[training]\nlr = 0.003\n").unwrap();
        assert_eq!(r.check().unwrap().unwrap().training.lr, 0.003);
    }

    #[test]
    fn saving_without_a_file_in_use_starts_watching_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let mut r = Reloader::none();
        assert_eq!(r.check(), None);
        let mut cfg = Config::default();
        cfg.model.dropout = 0.4;
        r.save(&path, &cfg, &["model.dropout"]).unwrap();
        assert_eq!(r.path(), Some(path.as_path()));
        assert_eq!(r.check(), None);
        std::fs::write(&path, "[model]\ndropout = 0.1\n").unwrap();
        assert_eq!(r.check().unwrap().unwrap().model.dropout, 0.1);
    }

    #[test]
    fn an_edit_with_the_same_length_and_modification_time_is_seen() {
        // Kernels before 6.13 give two writes within a clock tick the same mtime.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[training]\nlr = 0.001\n").unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let mut r = Reloader::new(Some(&path), |_| {});
        std::fs::write(&path, "[training]\nlr = 0.002\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert_eq!(r.check().unwrap().unwrap().training.lr, 0.002);
    }

    #[test]
    fn a_config_that_turns_into_something_huge_or_odd_is_refused_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[training]\nlr = 0.001\n").unwrap();
        let mut r = Reloader::new(Some(&path), |_| {});
        // A link to an endless device: refused before reading.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let e = r.check().unwrap().unwrap_err();
        assert!(
            e.0.contains("is a character device, not a regular file"),
            "{e}"
        );
        assert_eq!(r.check(), None, "reported once");
        // A sparse 2 GiB file: refused by size, without reading it all.
        std::fs::remove_file(&path).unwrap();
        std::fs::File::create(&path)
            .unwrap()
            .set_len(2 << 30)
            .unwrap();
        let e = Config::read_text(&path).unwrap_err();
        assert!(e.0.contains("is larger than 1024 KiB"), "{e}");
        // Fixed: seen again.
        std::fs::write(&path, "[training]\nlr = 0.004\n").unwrap();
        assert_eq!(r.check().unwrap().unwrap().training.lr, 0.004);
    }
}
