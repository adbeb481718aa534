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

/// The CSV text for `runs` (RFC 4180: `\r\n` is not required; lines end in `\n`).
pub fn metrics(runs: &[Run]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for run in runs {
        let name = field(&run.name);
        for e in &run.epochs {
            let _ = writeln!(
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
}
