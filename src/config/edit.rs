//! Writing settings back into a config file the user wrote: only the changed keys are
//! touched, in place, so comments, ordering, blank lines and the rest of the formatting
//! survive (`toml_edit`). Keys the file lacks are added to their section; a file that
//! does not exist yet starts as the documented default config.

use std::path::Path;

use toml_edit::{DocumentMut, Item};

use crate::config::{text, Config};
use crate::error::UsageError;

/// `base` (a config file's text) with each of `keys` set to its value in `cfg`.
pub fn render(base: &str, cfg: &Config, keys: &[&str]) -> Result<String, UsageError> {
    let mut doc: DocumentMut = base
        .parse()
        .map_err(|e| UsageError(format!("the file is not valid TOML: {e}")))?;
    for &key in keys {
        let (section, name) = key
            .split_once('.')
            .ok_or_else(|| UsageError(format!("unknown setting {key:?}")))?;
        let new = text::value(cfg, key)
            .and_then(|v| to_edit(&v))
            .ok_or_else(|| UsageError(format!("unknown setting {key:?}")))?;
        let table = doc
            .entry(section)
            .or_insert(toml_edit::table())
            .as_table_like_mut()
            .ok_or_else(|| UsageError(format!("[{section}] in the file is not a table")))?;
        match table.get_mut(name) {
            Some(Item::Value(old)) => {
                // Keep the spacing and any trailing comment around the old value.
                let decor = old.decor().clone();
                let mut new = new;
                *new.decor_mut() = decor;
                *old = new;
            }
            Some(other) => *other = Item::Value(new),
            None => {
                table.insert(name, Item::Value(new));
            }
        }
    }
    Ok(doc.to_string())
}

fn to_edit(v: &toml::Value) -> Option<toml_edit::Value> {
    Some(match v {
        toml::Value::String(s) => s.as_str().into(),
        toml::Value::Integer(i) => (*i).into(),
        toml::Value::Float(f) => (*f).into(),
        toml::Value::Boolean(b) => (*b).into(),
        _ => return None,
    })
}

/// Write `keys` of `cfg` into the file at `path` (created from the documented defaults if
/// missing), atomically: temp file in the same directory, fsync, rename. Returns the bytes
/// written, so that the hot reload can recognise its own write.
pub fn save(path: &Path, cfg: &Config, keys: &[&str]) -> Result<Vec<u8>, UsageError> {
    let shown = path.display();
    let base = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::config::DEFAULT_CONFIG.to_string()
        }
        Err(e) => return Err(UsageError(format!("cannot read {shown}: {e}"))),
    };
    let text = render(&base, cfg, keys).map_err(|e| UsageError(format!("{shown}: {e}")))?;
    // What is written must read back as the values it is meant to hold.
    let back = Config::from_toml(&text, path)?;
    for &key in keys {
        if text::value(&back, key) != text::value(cfg, key) {
            return Err(UsageError(format!(
                "{shown}: {key} would not read back as written; not saved"
            )));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| UsageError(format!("cannot create {}: {e}", dir.display())))?;
    }
    crate::atomic::write(path, text.as_bytes())
        .map_err(|e| UsageError(format!("cannot write {shown}: {e:#}")))?;
    Ok(text.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_CONFIG;

    fn changed_lines<'a>(a: &'a str, b: &'a str) -> Vec<(&'a str, &'a str)> {
        assert_eq!(a.lines().count(), b.lines().count(), "{b}");
        a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect()
    }

    #[test]
    fn editing_the_documented_file_changes_only_the_edited_lines() {
        let mut cfg = Config::default();
        cfg.training.lr = 5e-4;
        cfg.model.dropout = 0.35;
        cfg.training.schedule = crate::config::Schedule::Cosine;
        let out = render(
            DEFAULT_CONFIG,
            &cfg,
            &["training.lr", "model.dropout", "training.schedule"],
        )
        .unwrap();
        assert_eq!(
            changed_lines(DEFAULT_CONFIG, &out),
            vec![
                // Recipe keys read "auto" in the documented file (the model's default).
                ("lr = \"auto\"", "lr = 0.0005"),
                ("schedule = \"auto\"", "schedule = \"cosine\""),
                ("dropout = \"auto\"", "dropout = 0.35"),
            ]
        );
        // Every comment is still there, in order.
        let comments = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| l.trim_start().starts_with('#'))
                .map(String::from)
                .collect()
        };
        assert_eq!(comments(DEFAULT_CONFIG), comments(&out));
        let back = Config::from_toml(&out, Path::new("c.toml")).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn trailing_comments_spacing_and_unrelated_keys_survive() {
        let base = "# mine\n[model]\ndropout   =   0.2   # keep me\n\n[training]\n\
                    epochs = 3 # short\nseed = 7\n";
        let mut cfg = Config::from_toml(base, Path::new("c.toml")).unwrap();
        cfg.model.dropout = 0.5;
        cfg.training.epochs = 12;
        let out = render(base, &cfg, &["training.epochs", "model.dropout"]).unwrap();
        assert_eq!(
            out,
            "# mine\n[model]\ndropout   =   0.5   # keep me\n\n[training]\n\
             epochs = 12 # short\nseed = 7\n"
        );
    }

    #[test]
    fn missing_keys_and_sections_are_added() {
        let base = "[training]\n# how long\nepochs = 3\n\n[ui]\nfps = 10\n";
        let mut cfg = Config::from_toml(base, Path::new("c.toml")).unwrap();
        cfg.training.lr = 0.01;
        cfg.model.name = crate::config::ModelKind::Tutorial;
        cfg.runtime.device = crate::config::DeviceChoice::Cpu;
        let out = render(base, &cfg, &["training.lr", "runtime.device"]).unwrap();
        assert!(
            out.starts_with("[training]\n# how long\nepochs = 3\nlr = 0.01\n\n[ui]\nfps = 10\n"),
            "{out}"
        );
        assert!(out.ends_with("[runtime]\ndevice = \"cpu\"\n"), "{out}");
        assert_eq!(Config::from_toml(&out, Path::new("c.toml")).unwrap(), cfg);
    }

    #[test]
    fn dotted_keys_and_inline_tables_are_edited_in_place() {
        let base = "training.lr = 0.01 # fast\nmodel = { name = \"seed\", dropout = 0.3 }\n";
        let mut cfg = Config::from_toml(base, Path::new("c.toml")).unwrap();
        cfg.training.lr = 0.02;
        cfg.model.dropout = 0.1;
        let out = render(base, &cfg, &["training.lr", "model.dropout"]).unwrap();
        assert_eq!(
            out,
            "training.lr = 0.02 # fast\nmodel = { name = \"seed\", dropout = 0.1 }\n"
        );
    }

    #[test]
    fn save_writes_atomically_and_starts_new_files_from_the_documented_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config.toml");
        let mut cfg = Config::default();
        cfg.training.epochs = 4;
        let written = save(&path, &cfg, &["training.epochs"]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.as_bytes(), written);
        assert_eq!(
            changed_lines(DEFAULT_CONFIG, &text),
            vec![("epochs = 10", "epochs = 4")]
        );
        // A second save edits the file now there.
        std::fs::write(&path, "[training]\nepochs = 4 # mine\n").unwrap();
        cfg.training.lr = 0.002;
        save(&path, &cfg, &["training.lr"]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[training]\nepochs = 4 # mine\nlr = 0.002\n"
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temp files left: {leftovers:?}");
    }

    #[test]
    fn a_broken_file_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[training\nepochs = 3\n").unwrap();
        let e = save(&path, &Config::default(), &["training.lr"]).unwrap_err();
        assert!(e.0.contains("is not valid TOML"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[training\nepochs = 3\n"
        );
    }
}
