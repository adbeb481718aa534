//! `fashion-tui predict`: test-set images saved as users' pictures (scaled up, in colour,
//! on a light background) are classified as the test set itself is, `--test` agrees with
//! `eval`, every kind of bad input is named with the right exit code while the other
//! inputs are still classified, and the PyTorch loader agrees when torch is installed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use fashion_tui::data::idx::encode_images;
use image::{Rgb, RgbImage};

/// Test images used; the run evaluates exactly these.
const N: usize = 40;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fashion-tui"));
    c.env("XDG_CONFIG_HOME", "/nonexistent-fashion-tui-test")
        .current_dir(env!("CARGO_TARGET_TMPDIR"));
    c
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("predict-tests")
}

/// A short run on the first 1500 real training images (the dataset found or fetched as
/// the program itself does), evaluated on the first `N` test images; and those images.
fn real_run() -> &'static (PathBuf, Vec<u8>, Vec<u8>) {
    static RUN: OnceLock<(PathBuf, Vec<u8>, Vec<u8>)> = OnceLock::new();
    RUN.get_or_init(|| {
        let _ = fs::remove_dir_all(root());
        let dir = root().join("run");
        let out = bin()
            .args(["train", "--headless", "--device", "cpu", "--threads", "2"])
            .args([
                "--epochs",
                "1",
                "--batch-size",
                "32",
                "--train-limit",
                "1500",
            ])
            .args(["--test-limit", &N.to_string(), "--seed", "3"])
            .arg("--run-dir")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let cfg = fashion_tui::config::Config::default();
        let mut quiet = |_ev: fashion_tui::events::TrainEvent| true;
        let mut ds = fashion_tui::train::load_data(&cfg, &mut quiet).unwrap();
        ds.test.truncate(N);
        (dir, ds.test.images, ds.test.labels)
    })
}

/// `--json` output lines as objects.
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn top_class(v: &serde_json::Value) -> String {
    v["top"][0]["class"].as_str().unwrap().to_string()
}

/// Image `px` (28×28, light on black) as a user's photo: 4× larger, dark blue ink on a
/// cream background.
fn as_photo(px: &[u8], path: &Path) {
    let (paper, ink) = ([250.0, 246.0, 236.0], [20.0, 40.0, 110.0]);
    let img = RgbImage::from_fn(112, 112, |x, y| {
        let a = f32::from(px[(y / 4) as usize * 28 + (x / 4) as usize]) / 255.0;
        Rgb(std::array::from_fn(|c| {
            (paper[c] * (1.0 - a) + ink[c] * a).round() as u8
        }))
    });
    img.save(path).unwrap();
}

#[test]
fn photos_of_test_images_are_classified_as_the_test_images_and_as_eval_does() {
    let (run, images, labels) = real_run();
    let photos = root().join("photos");
    fs::create_dir_all(&photos).unwrap();
    let mut cmd = bin();
    cmd.arg("predict").arg(run).arg("--json");
    for i in 0..N {
        let path = photos.join(format!("test-{i}.png"));
        as_photo(&images[i * 784..(i + 1) * 784], &path);
        cmd.arg(&path);
    }
    for i in 0..N {
        cmd.args(["--test", &i.to_string()]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2 * N);
    let (from_photos, from_test) = lines.split_at(N);
    let mut compared = 0;
    for i in 0..N {
        // Preprocessing remakes an image exactly when it is in the dataset's own form:
        // longest edge 28 pixels, brightest pixel 255 (nearly all are). Others come out
        // scaled slightly differently, and a weak model may then change its mind.
        let px = &images[i * 784..(i + 1) * 784];
        let lit = |r: usize, c: usize| px[r * 28 + c] > 0;
        let rows: Vec<usize> = (0..28).filter(|&r| (0..28).any(|c| lit(r, c))).collect();
        let cols: Vec<usize> = (0..28).filter(|&c| (0..28).any(|r| lit(r, c))).collect();
        let edge = (rows[rows.len() - 1] - rows[0]).max(cols[cols.len() - 1] - cols[0]) + 1;
        let own_form = edge == 28 && px.contains(&255);
        assert!(from_photos[i]["preprocessing"]
            .as_str()
            .unwrap()
            .contains("light background"));
        assert_eq!(from_test[i]["file"], format!("test[{i}]"));
        if !own_form {
            continue;
        }
        compared += 1;
        assert_eq!(
            top_class(&from_photos[i]),
            top_class(&from_test[i]),
            "test image {i}: {} vs {}",
            from_photos[i],
            from_test[i]
        );
    }
    assert!(
        compared >= N * 3 / 4,
        "only {compared} of {N} images compared"
    );
    // eval's confusion matrix over the same images is predict's, cell by cell.
    let eval = bin()
        .args(["eval", "--json", "--test-limit", &N.to_string()])
        .arg(run)
        .output()
        .unwrap();
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let names = fashion_tui::events::CLASS_NAMES;
    let mut confusion = [[0u64; 10]; 10];
    for (i, line) in from_test.iter().enumerate() {
        let p = names.iter().position(|n| *n == top_class(line)).unwrap();
        confusion[labels[i] as usize][p] += 1;
        assert_eq!(line["label"], names[labels[i] as usize]);
    }
    assert_eq!(eval["confusion"], serde_json::json!(confusion));
}

#[test]
fn idx_files_are_used_as_they_are() {
    let (run, images, _) = real_run();
    let idx = root().join("three.idx");
    fs::write(&idx, encode_images(&images[..3 * 784], 3)).unwrap();
    let out = bin()
        .arg("predict")
        .arg(run)
        .arg(&idx)
        .args(["--test", "0", "--test", "1", "--test", "2", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["file"], format!("{}[0]", idx.display()));
    for i in 0..3 {
        let probs = |v: &serde_json::Value| -> Vec<f64> {
            v["probabilities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_f64().unwrap())
                .collect()
        };
        let (a, b) = (probs(&lines[i]), probs(&lines[i + 3]));
        // Equal up to the order of float sums in batches of different sizes.
        assert!(
            a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5),
            "{a:?} {b:?}"
        );
    }
    // Plain output: the top three with probabilities and what was done.
    let out = bin().arg("predict").arg(run).arg(&idx).output().unwrap();
    let stdout = text(&out.stdout);
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{}[0]: ", idx.display())),
        "{stdout}"
    );
    assert_eq!(first.matches('%').count(), 3, "{first}");
    assert!(stdout.contains("IDX image, used as it is"));
}

/// A PNG that only has a header claiming `w`×`h` (the pixels are never reached).
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit gray
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for chunk in [ihdr, b"IDAT".to_vec(), b"IEND".to_vec()] {
        png.extend((chunk.len() as u32 - 4).to_be_bytes());
        png.extend(&chunk);
        png.extend(crc32(&chunk).to_be_bytes());
    }
    png
}

#[test]
fn bad_inputs_are_named_and_the_good_ones_still_classified() {
    let (run, images, _) = real_run();
    let dir = root().join("bad");
    fs::create_dir_all(dir.join("a-directory.png")).unwrap();
    let good = dir.join("good.png");
    as_photo(&images[..784], &good);
    let whole = fs::read(&good).unwrap();
    fs::write(dir.join("truncated.png"), &whole[..whole.len() / 2]).unwrap();
    fs::write(dir.join("notes.png"), "not a picture\n").unwrap();
    fs::write(dir.join("huge.png"), png_header_only(20_000, 20_000)).unwrap();
    fs::write(dir.join("empty.png"), png_header_only(0, 7)).unwrap();
    // An IDX image file of 3×3 images: the user's own file, so no advice to download it.
    let mut small = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 3];
    small.extend([0u8; 9]);
    fs::write(dir.join("small.idx"), small).unwrap();
    let cases = [
        ("missing.png", "missing.png: no such file"),
        ("a-directory.png", "a-directory.png: is a directory"),
        ("notes.png", "notes.png: not an image in a format"),
        ("truncated.png", "truncated.png: cannot decode the image"),
        (
            "huge.png",
            "huge.png: 20000×20000 is 400 megapixels, above the limit of 50",
        ),
        ("empty.png", "empty.png: "),
        ("small.idx", "expected 28×28"),
    ];
    for (file, message) in cases {
        let out = bin()
            .arg("predict")
            .arg(run)
            .arg(dir.join(file))
            .arg(&good)
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        // A file that is not there failed to read (1); the others are unusable (2).
        let code = if file == "missing.png" { 1 } else { 2 };
        assert_eq!(out.status.code(), Some(code), "{file}: {stderr}");
        assert!(stderr.contains(message), "{file}: {stderr}");
        assert!(!stderr.contains("download"), "{file}: {stderr}");
        assert_eq!(
            stderr.matches(file).count(),
            1,
            "{file} named once: {stderr}"
        );
        assert!(
            text(&out.stdout).contains("good.png: "),
            "{file}: the good picture must still be classified"
        );
    }
}

#[test]
fn models_of_another_network_or_corrupt_are_refused_by_name() {
    let (_, images, _) = real_run();
    let dir = root().join("models");
    fs::create_dir_all(&dir).unwrap();
    let picture = dir.join("p.png");
    as_photo(&images[..784], &picture);
    // Another network's weights.
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let _ = tch::nn::linear(vs.root() / "fc", 784, 10, Default::default());
    let other = dir.join("other.safetensors");
    vs.save(&other).unwrap();
    let out = bin()
        .arg("predict")
        .arg(&other)
        .arg(&picture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("other.safetensors does not hold a tutorial model"),
        "{}",
        text(&out.stderr)
    );
    // The other of our networks, out of its run directory: named, with the flag to add.
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let _net = fashion_tui::model::build(fashion_tui::model::ModelKind::Fast, &vs.root(), 0.0);
    let fast = dir.join("fast.safetensors");
    vs.save(&fast).unwrap();
    for command in ["predict", "eval"] {
        let mut c = bin();
        c.arg(command).arg(&fast);
        if command == "predict" {
            c.arg(&picture);
        } else {
            c.args(["--test-limit", "10"]);
        }
        let out = c.output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains(
                "fast.safetensors holds a fast model, not a tutorial one: add --model fast"
            ),
            "{command}: {stderr}"
        );
    }
    // Garbage under the right name.
    let corrupt = dir.join("corrupt.safetensors");
    fs::write(&corrupt, [7u8; 100]).unwrap();
    let out = bin()
        .arg("predict")
        .arg(&corrupt)
        .arg(&picture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("corrupt.safetensors is not a readable safetensors file"),
        "{}",
        text(&out.stderr)
    );
    // No model at all.
    let out = bin()
        .arg("predict")
        .arg(dir.join("none.safetensors"))
        .arg(&picture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("none.safetensors does not exist"));
}

#[test]
fn eval_and_predict_need_only_the_test_files() {
    let (run, _, _) = real_run();
    let mut quiet = |_| {};
    let (full, _) =
        fashion_tui::data::locate::resolve(None, true, &fashion_tui::data::FILE_NAMES, &mut quiet)
            .unwrap();
    let test_only = root().join("test-only-data");
    fs::create_dir_all(&test_only).unwrap();
    for name in fashion_tui::data::TEST_FILE_NAMES {
        let from = fashion_tui::data::idx::file_in(&full, name).unwrap();
        fs::copy(&from, test_only.join(from.file_name().unwrap())).unwrap();
    }
    let out = bin()
        .arg("eval")
        .arg(run)
        .arg("--data-dir")
        .arg(&test_only)
        .args(["--test-limit", &N.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = bin()
        .arg("predict")
        .arg(run)
        .args(["--test", "3", "--data-dir"])
        .arg(&test_only)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("test[3]"),
        "{}",
        text(&out.stdout)
    );
}

/// A `python3` that can import torch: the system's, else the PyTorch that `make bench`
/// installs into the cache. None when neither has it.
fn python_with_torch() -> Option<Command> {
    let bench_torch = std::env::var_os("FASHION_TUI_CACHE")
        .map(PathBuf::from)
        .or_else(fashion_tui::paths::cache_dir)
        .map(|c| c.join("pytorch-2.13.0"))
        .filter(|p| p.join(".complete").exists());
    let python = |path: Option<&PathBuf>| {
        let mut c = Command::new("python3");
        if let Some(p) = path {
            c.env("PYTHONPATH", p);
        }
        c
    };
    let found = [None, bench_torch.as_ref()].into_iter().find_map(|path| {
        python(path)
            .args(["-c", "import torch"])
            .output()
            .is_ok_and(|o| o.status.success())
            .then(|| python(path))
    });
    found
}

#[test]
fn pytorch_loads_either_model_from_model_json_alone() {
    if python_with_torch().is_none() {
        eprintln!("skipped: python3 cannot import torch, so the PyTorch loader is not run");
        return;
    }
    let (tutorial, images, _) = real_run();
    // A few steps of `fast` (BatchNorm, max-pools): the loader builds it from the layers.
    let fast = root().join("fast-run");
    let _ = fs::remove_dir_all(&fast);
    let out = bin()
        .args(["train", "--headless", "--device", "cpu", "--threads", "2"])
        .args(["--model", "fast", "--epochs", "1", "--train-limit", "600"])
        .args(["--test-limit", &N.to_string(), "--seed", "3", "--run-dir"])
        .arg(&fast)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let idx = root().join("for-torch.idx");
    fs::write(&idx, encode_images(&images[..5 * 784], 5)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/load_in_pytorch.py");
    let names = fashion_tui::model::DATASET_CLASS_NAMES;
    let short = fashion_tui::events::CLASS_NAMES;
    for run in [tutorial, &fast] {
        let torch = python_with_torch()
            .unwrap()
            .arg(&script)
            .arg(run)
            .arg(&idx)
            .output()
            .unwrap();
        assert!(torch.status.success(), "{}", text(&torch.stderr));
        let ours = bin()
            .arg("predict")
            .arg(run)
            .arg(&idx)
            .arg("--json")
            .output()
            .unwrap();
        let (theirs, ours) = (text(&torch.stdout), json_lines(&ours));
        assert_eq!(theirs.lines().count(), 5, "{theirs}");
        assert_eq!(ours.len(), 5, "{}", run.display());
        for (theirs, ours) in theirs.lines().zip(ours) {
            let (class, p) = theirs.split_once('\t').unwrap();
            let k = names.iter().position(|n| *n == class).unwrap();
            assert_eq!(short[k], top_class(&ours), "{}", run.display());
            let ours_p = ours["top"][0]["probability"].as_f64().unwrap();
            assert!(
                (p.parse::<f64>().unwrap() - ours_p).abs() < 1e-3,
                "{}",
                run.display()
            );
        }
    }
}
