//! The panes as one instrument, in a real terminal: after two epochs on a small set the
//! run is paused; in the Confusion pane the keys move to a cell and Enter opens its images
//! in the Predictions pane, whose title counts as many as the matrix's cell; an image
//! chosen there with the keys opens its feature maps, computed by the paused trainer.

mod common;

use std::time::Duration;

use common::tmux::{dashboard_script, Tmux};

const LONG: Duration = Duration::from_secs(180);

/// The line of `screen` that holds `title` (a pane's top border).
fn title_line<'a>(screen: &'a str, title: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(title))
        .unwrap_or_else(|| panic!("no {title}:\n{screen}"))
}

/// `Shirt → T-shirt: 102` in the Confusion pane's title: the classes and the count.
fn cell_of(line: &str) -> (String, String, usize) {
    let (left, count) = line.rsplit_once(": ").expect("a cell in the title");
    let count: String = count.chars().take_while(char::is_ascii_digit).collect();
    let (from, to) = left.rsplit_once(" → ").expect("an arrow");
    let from = from.rsplit(' ').next().unwrap().to_string();
    (from, to.to_string(), count.parse().unwrap())
}

#[test]
fn a_cell_opens_its_images_and_an_image_its_feature_maps() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 2000, 300);
    let exit_file = run.path().join("exit-code");
    let script = dashboard_script(data.path(), &run.path().join("run"), &exit_file, "");
    let tmux = Tmux::start("linked", &script, 160, 48);

    tmux.wait("two epochs", LONG, |s| s.contains("epoch 2/"));
    tmux.keys(&["p"]);
    tmux.wait("PAUSED", LONG, |s| s.contains("PAUSED"));

    // Confusion: down a row and back up (the cursor starts on the worst confusion), open.
    tmux.keys(&["3", "j", "k", "Enter"]);
    // (The Log says "test images" too: the Predictions title is what counts.)
    let screen = tmux.wait("the cell's images", LONG, |s| {
        s.lines()
            .find(|l| l.contains("Predictions"))
            .is_some_and(|l| l.contains(" image"))
    });
    let (from, to, count) = cell_of(title_line(&screen, "Confusion matrix"));
    assert!(count > 0, "{screen}");
    let predictions = title_line(&screen, "Predictions");
    assert!(
        predictions.contains(&format!("{from} → {to} · {count} images"))
            || predictions.contains(&format!("{count} images")),
        "the Predictions title counts as the cell does ({from} → {to}: {count}):\n{screen}"
    );

    // Predictions: the second image, opened.
    tmux.keys(&["5", "l", "Enter"]);
    let screen = tmux.wait("its feature maps", LONG, |s| {
        let features = s.lines().find(|l| l.contains('#')).unwrap_or("");
        !features.contains("#0 ") && features.contains(&format!("{from} → {to}"))
    });
    let line = screen.lines().find(|l| l.contains('#')).unwrap();
    assert!(line.contains(&format!("{from} → {to}")), "{screen}");

    tmux.keys(&["C-c"]);
    assert_eq!(common::wait_for_exit_code(&exit_file, LONG), 130);
}
