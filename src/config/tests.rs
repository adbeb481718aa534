//! Tests of reading, layering and validating configurations.

use super::*;

#[test]
fn repository_config_equals_builtin_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE_NAME);
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = Config::from_toml(&text, &path).unwrap();
    assert_eq!(parsed, Config::default());
    // Every key is present in the documented file, not just defaulted.
    let raw: toml::Table = text.parse().unwrap();
    let full: toml::Table = Config::default().to_toml().parse().unwrap();
    for (section, keys) in &full {
        let have = raw.get(section).and_then(|s| s.as_table());
        for key in keys.as_table().unwrap().keys() {
            assert!(
                have.is_some_and(|h| h.contains_key(key)),
                "config.toml lacks [{section}] {key}"
            );
        }
    }
}

#[test]
fn out_of_range_values_from_a_file_name_their_place_and_flags_do_not() {
    let text = "[training]\nepochs = 3\n\n[model]\n  dropout = 1.5\n";
    let path = Path::new("c.toml");
    let file = Config::from_toml(text, path).unwrap();
    let e = file.validate_in_file(text, path, &file).unwrap_err();
    assert_eq!(
        e.0,
        "c.toml:5:13: model.dropout = 1.5 is out of range: allowed 0 ≤ dropout < 1"
    );
    // A flag that set the bad value is to blame, not the file.
    let mut flagged = file.clone();
    flagged.model.dropout = 0.2;
    flagged.training.lr = -1.0;
    let e = flagged.validate_in_file(text, path, &file).unwrap_err();
    assert!(e.0.starts_with("training.lr = -1 is out of range"), "{e}");
    // Names that are not plain numbers are placed too (parsed as the file is read),
    // NaN included.
    let text = "[runtime]\ndevice = \"tpu\"\n";
    let e = Config::from_toml(text, path).unwrap_err();
    assert!(
        e.0.starts_with("c.toml:2:10: runtime.device = \"tpu\""),
        "{e}"
    );
    let text = "[training]\nlr = nan\n";
    let file = Config::from_toml(text, path).unwrap();
    let e = file.validate_in_file(text, path, &file).unwrap_err();
    assert!(e.0.starts_with("c.toml:2:6: training.lr = NaN"), "{e}");
}

#[test]
fn seeds_beyond_what_toml_can_hold_are_refused() {
    let mut c = Config::default();
    c.training.seed = i64::MAX as u64;
    c.validate().unwrap();
    assert!(c.to_toml().contains("seed = 9223372036854775807"));
    c.training.seed = u64::MAX;
    let e = c.validate().unwrap_err();
    assert!(
        e.0.starts_with("training.seed = 18446744073709551615 is out of range"),
        "{e}"
    );
}

#[test]
fn partial_file_overrides_only_its_keys() {
    let c = Config::from_toml("[training]\nepochs = 3\n", Path::new("c.toml")).unwrap();
    assert_eq!(c.training.epochs, 3);
    assert_eq!(c.training.batch_size, 32);
    assert_eq!(c.model.name, ModelKind::Tutorial);
}

#[test]
fn unknown_key_names_line_and_suggests() {
    let e = Config::from_toml(
        "[training]\nepochs = 3\nlearning_rat = 1\n",
        Path::new("c.toml"),
    )
    .unwrap_err();
    assert!(
        e.0.starts_with("c.toml:3:1: unknown field `learning_rat`"),
        "{e}"
    );
    let e = Config::from_toml("[training]\nbatch_sise = 4\n", Path::new("c.toml")).unwrap_err();
    assert!(e.0.contains("did you mean `batch_size`?"), "{e}");
    let e =
        Config::from_toml("[training]\noptimizer = \"sdg\"\n", Path::new("c.toml")).unwrap_err();
    assert!(e.0.ends_with("(did you mean `sgd`?)"), "{e}");
    let e =
        Config::from_toml("[training]\noptimizer = \"lion\"\n", Path::new("c.toml")).unwrap_err();
    assert!(!e.0.contains("did you mean"), "{e}");
}

#[test]
fn wrong_type_names_position() {
    let e = Config::from_toml("[training]\nepochs = \"ten\"\n", Path::new("c.toml")).unwrap_err();
    assert!(e.0.starts_with("c.toml:2:10:"), "{e}");
}

#[test]
fn out_of_range_values_name_key_value_and_range() {
    let mut c = Config::default();
    c.training.lr = -1.0;
    assert_eq!(
        c.validate().unwrap_err().0,
        "training.lr = -1 is out of range: allowed a finite number > 0 and ≤ 10"
    );
    c.training.lr = f64::NAN;
    assert!(c.validate().unwrap_err().0.starts_with("training.lr = NaN"));
    let mut c = Config::default();
    c.training.epochs = 0;
    assert!(c
        .validate()
        .unwrap_err()
        .0
        .starts_with("training.epochs = 0"));
    let mut c = Config::default();
    c.model.dropout = 1.0;
    assert!(c.validate().unwrap_err().0.starts_with("model.dropout = 1"));
    // Names are parsed, not range-checked: a bad one never makes a Config.
    let c = Config::default();
    let named = |key, text| text::with_text(&c, key, text).unwrap_err().0;
    assert!(named("model.name", "resnet").starts_with("model.name = \"resnet\""));
    assert!(named("runtime.device", "tpu").starts_with("runtime.device = \"tpu\""));
    let c = Config::default();
    assert!(c
        .validate_against_data(10)
        .unwrap_err()
        .0
        .contains("allowed 1 to 10"));
}

#[test]
fn held_out_images_must_leave_some_to_train_on() {
    let mut c = Config::default();
    c.data.validation = 100;
    c.validate().unwrap();
    c.training.batch_size = 32;
    c.validate_against_data(101).unwrap_err();
    c.training.batch_size = 1;
    c.validate_against_data(101).unwrap();
    assert_eq!(
        c.validate_against_data(100).unwrap_err().0,
        "data.validation = 100 is out of range: allowed 0 (off) to 99 (it must leave \
         images to train on: there are 100 training images)"
    );
    c.data.train_limit = 50;
    let e = c.validate_against_data(50).unwrap_err().0;
    assert!(e.starts_with("data.validation = 100 is out of range: allowed 0 (off) to 49"));
    assert!(
        e.ends_with("50 training images that data.train_limit leaves)"),
        "{e}"
    );
    // The batch must fit in what is left.
    c.data.train_limit = 0;
    c.training.batch_size = 32;
    assert_eq!(
        c.validate_against_data(120).unwrap_err().0,
        "training.batch_size = 32 is out of range: allowed 1 to 20 (the number of \
         training images once data.validation has held 100 out)"
    );
    c.data.validation = 60_000;
    assert!(c
        .validate()
        .unwrap_err()
        .0
        .starts_with("data.validation = 60000 is out of range: allowed 0 (off) to 59999"));
}

#[test]
fn lookup_order() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("user.toml");
    assert_eq!(
        locate(None, dir.path(), Some(&user)).unwrap(),
        Source::Defaults
    );
    std::fs::write(&user, "").unwrap();
    assert_eq!(
        locate(None, dir.path(), Some(&user)).unwrap(),
        Source::File(user.clone())
    );
    let local = dir.path().join(FILE_NAME);
    std::fs::write(&local, "").unwrap();
    assert_eq!(
        locate(None, dir.path(), Some(&user)).unwrap(),
        Source::File(local)
    );
    let missing = dir.path().join("nope.toml");
    let e = locate(Some(&missing), dir.path(), Some(&user)).unwrap_err();
    assert!(e.0.contains("does not exist"), "{e}");
}

#[test]
fn long_values_are_cut_in_messages() {
    assert_eq!(quoted("seed"), "\"seed\"");
    let long = "x".repeat(10_000);
    let q = quoted(&long);
    assert!(
        q.len() < 100 && q.ends_with("… (10000 bytes in all)"),
        "{q}"
    );
    let e = Config::from_toml(
        &format!("[model]\nname = \"{long}\"\n"),
        Path::new("c.toml"),
    )
    .unwrap_err();
    assert!(e.0.len() < 200, "{e}");
}

#[test]
fn what_is_not_a_regular_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = Config::read_text(dir.path()).unwrap_err();
    assert!(e.0.ends_with("is a directory, not a regular file"), "{e}");
    let e = locate(Some(dir.path()), dir.path(), None).unwrap_err();
    assert!(e.0.contains("(given with --config) is a directory"), "{e}");
    // Where a file is looked for, a directory is named, not skipped.
    let user = dir.path().join("user");
    std::fs::create_dir(&user).unwrap();
    let e = locate(None, dir.path(), Some(&user)).unwrap_err();
    assert!(
        e.0.contains("(the user's config file) is a directory"),
        "{e}"
    );
    std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
    let e = locate(None, dir.path(), None).unwrap_err();
    assert!(
        e.0.contains("(in the working directory) is a directory"),
        "{e}"
    );
}
