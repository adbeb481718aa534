//! One file per pane, each a view that borrows only its pane's state (from
//! [`crate::ui::panes`]) and the theme and implements [`ratatui::widgets::Widget`], plus
//! the helpers they share.

pub mod accuracy;
pub mod confirm;
pub mod confusion;
pub mod editor;
pub mod features;
pub mod footer;
pub mod grid;
pub mod header;
pub mod help;
pub mod log;
pub mod loss;
pub mod pixels;
pub mod predictions;
pub mod runs;
pub mod timeseries;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{
    Axis, Block, BorderType, Chart, Dataset, GraphType, LegendPosition, Paragraph, Widget, Wrap,
};

use crate::events::NUM_CLASSES;
use crate::ui::panes::Pane;
use crate::ui::theme::Theme;

/// Class names of at most 4 characters, for tight spots.
pub const SHORT_NAMES: [&str; NUM_CLASSES] = [
    "Tee", "Trou", "Pull", "Drss", "Coat", "Sndl", "Shrt", "Snkr", "Bag", "Boot",
];

/// The short name of a label, `?` when out of range.
pub fn short_name(label: usize) -> &'static str {
    SHORT_NAMES.get(label).copied().unwrap_or("?")
}

/// The full name of a label, `?` when out of range.
pub fn class_name(label: usize) -> &'static str {
    crate::events::CLASS_NAMES
        .get(label)
        .copied()
        .unwrap_or("?")
}

/// The frame of a pane: its exact title on the left, thick and highlighted when focused.
pub fn pane_block<'a>(pane: Pane, focused: bool, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(theme.border(focused))
        .title(Line::styled(
            format!(" {} ", pane.title()),
            theme.title(focused),
        ))
}

/// Add the first of `candidates` that fits beside the pane's title in an area `width`
/// wide as a right-aligned title (none if none fits: the pane's own title always wins).
pub fn with_info<'a>(
    block: Block<'a>,
    pane: Pane,
    width: u16,
    candidates: &[String],
    style: Style,
) -> Block<'a> {
    let room = usize::from(width).saturating_sub(pane.title().chars().count() + 2 + 4);
    match candidates
        .iter()
        .find(|c| !c.is_empty() && c.chars().count() + 2 <= room)
    {
        Some(c) => block.title_top(Line::styled(format!(" {c} "), style).right_aligned()),
        None => block,
    }
}

/// Draw `block` with nothing in it but `text` (what the pane waits for).
pub fn empty_pane(block: Block<'_>, text: &str, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let inner = block.inner(area);
    block.render(area, buf);
    waiting(text, inner, buf, theme);
}

/// A chart series' legend entry: with plain markers (no colour, or `ascii_charts`) it
/// starts with the series' glyph, since colour cannot tell the series apart.
pub fn series_name(plain: bool, text: &str, role: SeriesRole) -> String {
    let g = marker_glyph(marker(plain, role));
    if plain && !g.is_empty() {
        format!("{g} {text}")
    } else {
        text.to_string()
    }
}

/// What an empty pane says while it waits for data, centred.
pub fn waiting(text: &str, area: Rect, buf: &mut Buffer, theme: &Theme) {
    if area.is_empty() {
        return;
    }
    let y = area.y.saturating_add(area.height.saturating_sub(1) / 2);
    let row = Rect::new(area.x, y, area.width, area.bottom().saturating_sub(y));
    Paragraph::new(text.to_string())
        .style(theme.dim())
        .centered()
        .wrap(Wrap { trim: true })
        .render(row, buf);
}

/// Write a string at `(x, y)` clipped to `clip` (and to the buffer); returns the x after it.
pub fn put(buf: &mut Buffer, clip: Rect, x: u16, y: u16, text: &str, style: Style) -> u16 {
    let clip = clip.intersection(buf.area);
    if y < clip.top() || y >= clip.bottom() || x < clip.left() || x >= clip.right() {
        return x;
    }
    let max = usize::from(clip.right() - x);
    let (end, _) = buf.set_stringn(x, y, text, max, style);
    end
}

/// The chart marker for a role, honouring `ascii_charts` and colourless terminals (where
/// series can only be told apart by their characters).
pub fn marker(plain: bool, role: SeriesRole) -> Marker {
    match (plain, role) {
        (false, _) => Marker::Braille,
        (true, SeriesRole::Raw) => Marker::Custom('·'),
        (true, SeriesRole::Smooth) => Marker::Dot,
        (true, SeriesRole::Epoch) => Marker::Block,
        (true, SeriesRole::Reference) => Marker::Custom('-'),
    }
}

/// What a chart series shows, for [`marker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesRole {
    Raw,
    Smooth,
    Epoch,
    Reference,
}

/// The glyph a plain marker draws, for legends.
pub fn marker_glyph(m: Marker) -> &'static str {
    match m {
        Marker::Custom('·') => "·",
        Marker::Custom('-') => "-",
        Marker::Dot => "•",
        Marker::Block => "█",
        _ => "",
    }
}

/// A chart pane's block with the latest values in its title: all of `stats` where they fit,
/// else `short`.
pub fn chart_block<'a>(
    pane: Pane,
    focused: bool,
    theme: &Theme,
    width: u16,
    stats: &[String],
    short: Option<&String>,
) -> Block<'a> {
    let info = [stats.join(" · "), short.cloned().unwrap_or_default()];
    with_info(
        pane_block(pane, focused, theme),
        pane,
        width,
        &info,
        theme.dim(),
    )
}

/// A chart series named and marked for its `role` (glyphs in the legend when `plain`).
pub fn series<'a>(
    plain: bool,
    text: &str,
    role: SeriesRole,
    graph: GraphType,
    style: Style,
    data: &'a [(f64, f64)],
) -> Dataset<'a> {
    Dataset::default()
        .name(series_name(plain, text, role))
        .marker(marker(plain, role))
        .graph_type(graph)
        .style(style)
        .data(data)
}

/// The charts' shared frame: `datasets` in `block`, x in fractional epochs over the
/// window `x`, the given y axis, the legend in `corner` unless it would cover more than
/// two thirds of the plot.
pub fn epoch_chart<'a>(
    datasets: Vec<Dataset<'a>>,
    block: Block<'a>,
    theme: &Theme,
    (x_lo, x_hi): (f64, f64),
    y_axis: Axis<'a>,
    corner: LegendPosition,
) -> Chart<'a> {
    Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .title("epoch")
                .style(theme.dim())
                .bounds([x_lo, x_hi])
                .labels(axis_labels(x_lo, x_hi, epoch_label)),
        )
        .y_axis(y_axis.style(theme.dim()))
        .legend_position(Some(corner))
        .hidden_legend_constraints((Constraint::Ratio(2, 3), Constraint::Ratio(2, 3)))
        .style(Style::new())
}

/// An epoch on the x axis: whole epochs as integers, the middle of an odd span with its
/// half (`1.5`, and `0.5` for a one-epoch run, not a second `0`).
fn epoch_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Axis labels for `lo..hi`: low, middle and high.
pub fn axis_labels(lo: f64, hi: f64, fmt: impl Fn(f64) -> String) -> Vec<Line<'static>> {
    vec![
        Line::from(fmt(lo)),
        Line::from(fmt((lo + hi) / 2.0)),
        Line::from(fmt(hi)),
    ]
}

/// A box of `size` cells (clipped to `area`) centred over `area`, cleared, with a double
/// border, a bold `title` and a dim `hint` at the bottom right: the help and Runs overlays.
/// Returns the area inside the border.
pub fn overlay(
    area: Rect,
    buf: &mut Buffer,
    size: (u16, u16),
    title: &str,
    hint: String,
    theme: &Theme,
) -> Rect {
    use ratatui::widgets::{Block, BorderType, Clear};
    let rect = area.centered(
        Constraint::Length(size.0.min(area.width)),
        Constraint::Length(size.1.min(area.height)),
    );
    Clear.render(rect, buf);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(theme.accent())
        .title(Line::styled(
            title.to_string(),
            Style::new().add_modifier(Modifier::BOLD),
        ))
        .title_bottom(Line::styled(hint, theme.dim()).right_aligned());
    let inner = block.inner(rect);
    block.render(rect, buf);
    inner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_labels_keep_a_half_epoch_and_show_whole_ones_plainly() {
        let texts = |lo, hi| -> Vec<String> {
            axis_labels(lo, hi, epoch_label)
                .iter()
                .map(|l| l.to_string())
                .collect()
        };
        assert_eq!(texts(0.0, 1.0), ["0", "0.5", "1"]);
        assert_eq!(texts(0.0, 3.0), ["0", "1.5", "3"]);
        assert_eq!(texts(0.0, 10.0), ["0", "5", "10"]);
    }
}
