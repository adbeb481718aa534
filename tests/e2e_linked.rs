//! The panes as one instrument, in a real terminal: after two epochs on a small set the
//! run is paused; in the Confusion pane the keys move to a cell and Enter opens its images
//! in the Predictions pane, whose title counts as many as the matrix's cell; an image
//! chosen there with the keys opens its feature maps, computed by the paused trainer. Then
//! the same with the mouse: a click on a cell, a click on one of its images.

mod common;

use std::time::Duration;

use common::tmux::{dashboard_script, Tmux};

const LONG: Duration = Duration::from_secs(180);
/// What tmux says the program in the pane asked of the mouse: button reports, SGR
/// encoding, motion while a button is down, every motion.
const MOUSE_MODES: &str =
    "#{mouse_standard_flag} #{mouse_sgr_flag} #{mouse_button_flag} #{mouse_all_flag}";

/// The line of `screen` that holds `title` (a pane's top border).
fn title_line<'a>(screen: &'a str, title: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(title))
        .unwrap_or_else(|| panic!("no {title}:\n{screen}"))
}

/// Where (column, row; in characters) `text` first shows on a line at or below the top
/// border of the pane titled `pane`, between its borders.
fn at(screen: &str, pane: &str, text: &str) -> (usize, usize) {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let find = |line: &[char], what: &str, from: usize, to: usize| {
        let what: Vec<char> = what.chars().collect();
        (from..to.min(line.len()).saturating_sub(what.len() - 1))
            .find(|&i| line[i..].starts_with(&what))
    };
    let (top, left) = lines
        .iter()
        .enumerate()
        .find_map(|(y, l)| find(l, pane, 0, l.len()).map(|x| (y, x)))
        .unwrap_or_else(|| panic!("no {pane}:\n{screen}"));
    // The pane's left border: the corner before its title.
    let border = (0..left)
        .rev()
        .find(|&x| matches!(lines[top][x], '┌' | '┏'))
        .expect("the pane's corner");
    let right = (left..lines[top].len())
        .find(|&x| matches!(lines[top][x], '┐' | '┓'))
        .expect("the pane's other corner");
    for (y, line) in lines.iter().enumerate().skip(top) {
        if let Some(x) = find(line, text, border, right) {
            return (x, y);
        }
    }
    panic!("no {text} in {pane}:\n{screen}");
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

    // The mouse: a click on Trouser's diagonal cell opens its images; a click on the
    // first of them opens its feature maps.
    // Clicks and the wheel in SGR encoding, no motion (tmux knows what the program asked).
    let modes = || tmux.cmd(&["display", "-p", "-t", "ft", MOUSE_MODES]);
    assert_eq!(modes().trim(), "1 1 0 0");
    let screen = tmux.screen();
    let (x, y) = at(&screen, "Confusion matrix", "Trouser");
    // Full row names (9 columns) and 4-column cells at this size; a count ends its cell.
    tmux.click(x + 9 + 4 + 3, y);
    let screen = tmux.wait("the clicked cell's images", LONG, |s| {
        title_line(s, "Predictions").contains("Trouser → Trouser")
    });
    assert!(
        title_line(&screen, "Confusion matrix").contains("Trouser → Trouser: "),
        "{screen}"
    );
    let (x, y) = at(&screen, "Predictions", "Predictions");
    // Inside the pane's border, on the first image.
    tmux.click(x + 2, y + 3);
    tmux.wait("the clicked image's feature maps", LONG, |s| {
        s.lines()
            .find(|l| l.contains('#'))
            .is_some_and(|l| l.contains("Trouser → Trouser"))
    });

    tmux.keys(&["C-c"]);
    assert_eq!(common::wait_for_exit_code(&exit_file, LONG), 130);
    // The terminal has its mouse back.
    assert_eq!(modes().trim(), "0 0 0 0");
}
