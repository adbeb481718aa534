//! `metrics.csv`: one row per epoch per run under a header of stable column names.
//! Numbers are written in Rust's shortest round-trip form, so parsing a cell gives back
//! exactly the value in `metrics.jsonl`.

use std::fmt::Write as _;

use super::Run;

/// The header, in column order. Renaming or reordering a column breaks users' scripts.
pub const COLUMNS: [&str; 10] = [
    "run",
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "lr",
    "seconds",
    "eval_seconds",
    "images_per_sec",
];

/// Appended to [`COLUMNS`] when a run held training images out (`data.validation`);
/// empty in the rows of runs that did not.
pub const VAL_COLUMNS: [&str; 2] = ["val_loss", "val_acc"];

/// The CSV text for `runs` (RFC 4180: `\r\n` is not required; lines end in `\n`).
pub fn metrics(runs: &[Run]) -> String {
    let val = runs.iter().any(Run::validated);
    let mut out = COLUMNS.join(",");
    if val {
        out.push(',');
        out.push_str(&VAL_COLUMNS.join(","));
    }
    out.push('\n');
    let cell = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for run in runs {
        let name = field(&run.name);
        for e in &run.epochs {
            let _ = write!(
                out,
                "{name},{},{},{},{},{},{},{},{},{}",
                e.epoch,
                e.train_loss,
                e.train_acc,
                e.test_loss,
                e.test_acc,
                e.lr,
                e.seconds,
                e.eval_seconds,
                e.images_per_sec
            );
            if val {
                let _ = write!(out, ",{},{}", cell(e.val_loss), cell(e.val_acc));
            }
            out.push('\n');
        }
    }
    out
}

/// A text cell, quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fake_run;

    #[test]
    fn header_and_one_row_per_epoch_per_run() {
        let runs = [fake_run("a", 2), fake_run("b,\"c\"", 1)];
        let text = metrics(&runs);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "run,epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds,eval_seconds,images_per_sec"
        );
        assert_eq!(lines.len(), 4);
        assert!(lines[1].starts_with("a,1,0.9,"), "{}", lines[1]);
        assert!(lines[3].starts_with("\"b,\"\"c\"\"\",1,"), "{}", lines[3]);
        let cells: Vec<f64> = lines[2]
            .split(',')
            .skip(1)
            .map(|c| c.parse().unwrap())
            .collect();
        let e = &runs[0].epochs[1];
        assert_eq!(
            cells[..5],
            [2.0, e.train_loss, e.train_acc, e.test_loss, e.test_acc]
        );
    }

    #[test]
    fn held_out_images_add_two_columns_at_the_end() {
        let mut a = fake_run("a", 1);
        a.epochs[0].val_loss = Some(0.25);
        a.epochs[0].val_acc = Some(0.875);
        let text = metrics(&[a, fake_run("b", 1)]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with(",images_per_sec,val_loss,val_acc"),
            "{}",
            lines[0]
        );
        assert!(lines[1].ends_with(",0.25,0.875"), "{}", lines[1]);
        assert!(lines[2].ends_with(",,"), "{}", lines[2]);
    }
}
