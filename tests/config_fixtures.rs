//! The config fixtures under `tests/config/`: every `invalid/NAME.toml` must make the real
//! binary exit with code 2 and print each line of `invalid/NAME.expected` on stderr, before
//! any data is loaded; every `valid/NAME.toml` must load and validate, hold the values its
//! `valid/NAME.expected` lists, and be the file `config path --config` reports.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use fashion_tui::config::Config;

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/config")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// The non-empty lines of the `.expected` file next to `toml`.
fn expected_lines(toml: &Path) -> Vec<String> {
    let path = toml.with_extension("expected");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} needs {}: {e}", toml.display(), path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Start the binary; many run at once (each spends most of its time loading libtorch).
fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fashion-tui"))
        .args(args)
        // Keep the user's config and data out of the tests.
        .env_remove("FASHION_MNIST_DIR")
        .env("XDG_CONFIG_HOME", "/nonexistent-fashion-tui-test")
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running fashion-tui")
}

fn output(child: Child) -> Output {
    child.wait_with_output().expect("waiting for fashion-tui")
}

#[test]
fn the_fixture_set_covers_every_documented_failure() {
    let names: Vec<String> = fixtures("invalid").iter().map(|p| stem(p)).collect();
    for needed in [
        "malformed",
        "unknown_key",
        "unknown_section",
        "wrong_type",
        "lr_zero",
        "lr_negative",
        "lr_nan",
        "lr_inf",
        "batch_size_zero",
        "epochs_zero",
        "dropout_one",
        "dropout_negative",
        "unknown_model",
        "unknown_device",
        "unknown_optimizer",
        "unknown_schedule",
        "unknown_color",
    ] {
        assert!(
            names.iter().any(|n| n == needed),
            "missing tests/config/invalid/{needed}.toml"
        );
    }
    assert!(fixtures("valid").len() >= 3);
}

#[test]
fn every_invalid_fixture_exits_2_with_its_message() {
    let files = fixtures("invalid");
    assert!(!files.is_empty());
    // `--data-dir` at a directory without the dataset: a fixture that wrongly passed
    // validation fails fast with another message instead of downloading anything.
    let children: Vec<(PathBuf, Child)> = files
        .into_iter()
        .map(|file| {
            let child = spawn(&[
                "--headless",
                "--config",
                file.to_str().unwrap(),
                "--data-dir",
                "/nonexistent-fashion-tui-data",
            ]);
            (file, child)
        })
        .collect();
    for (file, child) in children {
        let o = output(child);
        let path = file.to_str().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{path}: {err}");
        for line in expected_lines(&file) {
            assert!(err.contains(&line), "{path}: expected {line:?} in {err:?}");
        }
        assert!(!err.contains("panicked"), "{path}: {err}");
        assert!(!err.contains("loading"), "{path}: failed too late: {err}");
        assert!(o.stdout.is_empty(), "{path}: stdout {:?}", o.stdout);
    }
}

#[test]
fn invalid_fixtures_fail_the_same_way_in_process() {
    for file in fixtures("invalid") {
        let text = std::fs::read_to_string(&file).unwrap();
        let err = Config::from_toml(&text, &file)
            .and_then(|c| c.validate_in_file(&text, &file, &c))
            .expect_err(&file.display().to_string());
        for line in expected_lines(&file) {
            assert!(
                err.0.contains(&line),
                "{}: {line:?} in {err}",
                file.display()
            );
        }
    }
}

/// `section.key` → the value the loaded config holds, in TOML syntax.
fn value_of(cfg: &Config, key: &str) -> toml::Value {
    let table: toml::Table = cfg.to_toml().parse().unwrap();
    let (section, name) = key.split_once('.').unwrap();
    table[section][name].clone()
}

#[test]
fn every_valid_fixture_loads_validates_and_holds_its_values() {
    for file in fixtures("valid") {
        let text = std::fs::read_to_string(&file).unwrap();
        let cfg =
            Config::from_toml(&text, &file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        cfg.validate()
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        // Each expected line is a TOML `section.key = value`.
        for line in expected_lines(&file) {
            let want: toml::Table = line.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
            let (section, keys) = want.iter().next().unwrap();
            let (name, value) = keys.as_table().unwrap().iter().next().unwrap();
            let key = format!("{section}.{name}");
            assert_eq!(&value_of(&cfg, &key), value, "{}: {key}", file.display());
        }
    }
}

#[test]
fn config_path_reports_each_valid_fixture() {
    let children: Vec<(PathBuf, Child)> = fixtures("valid")
        .into_iter()
        .map(|file| {
            let child = spawn(&["config", "path", "--config", file.to_str().unwrap()]);
            (file, child)
        })
        .collect();
    for (file, child) in children {
        let o = output(child);
        let path = file.to_str().unwrap();
        assert_eq!(o.status.code(), Some(0), "{path}");
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), path);
    }
}
