//! The "Confusion matrix" pane: test-set counts of the latest epoch (rows: true class,
//! columns: predicted), cells shaded by row-normalised value, per-class recall (column) and
//! precision (row), and the worst confusion in words. In small areas it abbreviates names,
//! narrows cells and drops precision, then recall.

use crate::ui::widgets::empty_pane;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Widget};

use crate::events::{worst_confusion, Confusion, ConfusionStats, EpochSummary, NUM_CLASSES};
use crate::ui::panes::Pane;
use crate::ui::theme::Theme;
use crate::ui::widgets::{class_name, pane_block, put, short_name, with_info};

pub struct ConfusionMatrix<'a> {
    /// The latest finished epoch, whose matrix is shown.
    pub epoch: Option<&'a EpochSummary>,
    pub theme: &'a Theme,
    pub focused: bool,
    /// The cell under the cursor (true class, predicted), drawn reversed while the pane
    /// is focused or its images are open.
    pub cursor: Option<(usize, usize)>,
}

/// One way to lay the matrix out, widest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Variant {
    /// Row-name column width, space included; 2 means class digits.
    name_w: u16,
    /// Width of one count cell.
    cell_w: u16,
    recall: bool,
    precision: bool,
}

const VARIANTS: [Variant; 6] = [
    Variant {
        name_w: 9,
        cell_w: 5,
        recall: true,
        precision: true,
    },
    Variant {
        name_w: 9,
        cell_w: 4,
        recall: true,
        precision: true,
    },
    Variant {
        name_w: 5,
        cell_w: 4,
        recall: true,
        precision: true,
    },
    Variant {
        name_w: 5,
        cell_w: 3,
        recall: true,
        precision: false,
    },
    Variant {
        name_w: 5,
        cell_w: 3,
        recall: false,
        precision: false,
    },
    Variant {
        name_w: 2,
        cell_w: 3,
        recall: false,
        precision: false,
    },
];

/// Distinct two-letter column names for the narrowest layouts.
const TWO_LETTERS: [&str; NUM_CLASSES] =
    ["Te", "Tr", "Pu", "Dr", "Co", "Sa", "Sh", "Sn", "Ba", "Bo"];

/// Width of the recall column.
const RECALL_W: u16 = 6;

impl Variant {
    fn width(&self) -> u16 {
        self.name_w + self.cell_w * NUM_CLASSES as u16 + if self.recall { RECALL_W } else { 0 }
    }

    fn pick(width: u16) -> Variant {
        VARIANTS
            .into_iter()
            .find(|v| v.width() <= width)
            .unwrap_or(VARIANTS[VARIANTS.len() - 1])
    }

    /// Cells too narrow for counts show row percentages instead.
    fn percent(&self) -> bool {
        self.cell_w < 4
    }

    fn row_name(&self, label: usize) -> String {
        match self.name_w {
            9.. => class_name(label).to_string(),
            3.. => short_name(label).to_string(),
            _ => label.to_string(),
        }
    }

    fn col_name(&self, label: usize) -> String {
        let max = usize::from(self.cell_w.saturating_sub(1));
        let name = if max >= 3 {
            short_name(label)
        } else {
            TWO_LETTERS.get(label).copied().unwrap_or("?")
        };
        name.chars().take(max).collect()
    }
}

/// The outer width (borders included) of the widest layout up to `max` columns, never
/// wider than full names with 4-wide cells.
pub fn preferred_width(max: u16) -> u16 {
    VARIANTS[1..]
        .iter()
        .map(|v| v.width() + 2)
        .find(|&w| w <= max)
        .unwrap_or(max)
}

/// The cell (true class, predicted) drawn at `(x, y)` when the pane fills `area`, as
/// [`ConfusionMatrix`] lays it out: the header row when there is room for it, then a row
/// per true class; after the row names, a column per predicted class.
pub fn cell_at(area: Rect, x: u16, y: u16) -> Option<(usize, usize)> {
    let inner = Block::bordered().inner(area);
    if !inner.contains(Position { x, y }) {
        return None;
    }
    let v = Variant::pick(inner.width);
    let top = inner.y + u16::from(inner.height > NUM_CLASSES as u16);
    let row = usize::from(y.checked_sub(top)?);
    let col = usize::from(x.checked_sub(inner.x.saturating_add(v.name_w))? / v.cell_w);
    (row < NUM_CLASSES && col < NUM_CLASSES).then_some((row, col))
}

/// Count as text of at most `width` characters: `·` for 0, `1k` when too long.
fn fmt_count(n: u32, width: usize) -> String {
    if n == 0 {
        return "·".to_string();
    }
    let s = n.to_string();
    if s.len() <= width {
        return s;
    }
    let k = format!("{}k", n / 1000);
    if k.len() <= width {
        k
    } else {
        "+".repeat(width.min(1))
    }
}

/// Whole percent of `(hits, of)`, rounded half up like the percent cells; `None` for an
/// empty row/column.
fn pct((num, den): (u32, u32)) -> Option<u32> {
    (den > 0).then(|| (f64::from(num) * 100.0 / f64::from(den)).round() as u32)
}

impl Widget for ConfusionMatrix<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let mut block = pane_block(Pane::Confusion, self.focused, theme);
        let Some(epoch) = self.epoch else {
            empty_pane(block, "waiting for the first epoch…", area, buf, theme);
            return;
        };
        let acc = format!("acc {:.1}%", epoch.test_acc * 100.0);
        let info = match self.cursor {
            Some((t, p)) => {
                let n = epoch.confusion[t][p];
                let cell = format!("{} → {}: {n}", class_name(t), class_name(p));
                let short = format!("{}→{}: {n}", short_name(t), short_name(p));
                vec![
                    format!("epoch {} · {cell} · Enter: images", epoch.epoch),
                    format!("{cell} · Enter: images"),
                    cell,
                    short,
                    acc,
                ]
            }
            None => vec![format!("epoch {} · {acc}", epoch.epoch), acc],
        };
        block = with_info(block, Pane::Confusion, area.width, &info, theme.dim());
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.is_empty() {
            return;
        }
        let m = &epoch.confusion;
        let v = Variant::pick(inner.width);
        // Rows to show, most important first: matrix, header, worst line, precision.
        let h = inner.height;
        let mut y = inner.y;
        if h > NUM_CLASSES as u16 {
            self.header(v, inner, y, buf);
            y = y.saturating_add(1);
        }
        for (t, row) in m.iter().enumerate() {
            self.row(v, m, t, row, inner, y, buf);
            y = y.saturating_add(1);
        }
        if v.precision && h > NUM_CLASSES as u16 + 2 {
            self.precision_row(v, m, inner, y, buf);
            y = y.saturating_add(1);
        }
        if h > NUM_CLASSES as u16 + 1 {
            let text = match worst_confusion(m) {
                Some((t, p, n)) => format!("worst: {} → {}: {n}", class_name(t), class_name(p)),
                None => "no confusions".to_string(),
            };
            put(buf, inner, inner.x, y, &text, theme.warn());
        }
    }
}

impl ConfusionMatrix<'_> {
    /// The predicted classes' names over the columns (and `row%` when cells are percent).
    fn header(&self, v: Variant, inner: Rect, y: u16, buf: &mut Buffer) {
        let theme = self.theme;
        let cw = usize::from(v.cell_w);
        if v.percent() {
            let corner = if v.name_w >= 5 { "row%" } else { "%" };
            put(buf, inner, inner.x, y, corner, theme.dim());
        }
        let mut x = inner.x.saturating_add(v.name_w);
        for p in 0..NUM_CLASSES {
            let name = format!("{:>cw$}", v.col_name(p));
            x = put(buf, inner, x, y, &name, theme.dim());
        }
        if v.recall {
            let rec = format!("{:>w$}", "rec", w = usize::from(RECALL_W));
            put(buf, inner, x, y, &rec, theme.dim());
        }
    }

    /// True class `t`'s row: its name, a cell per predicted class shaded by its share of
    /// the row, and its recall.
    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        v: Variant,
        m: &Confusion,
        t: usize,
        row: &[u32; NUM_CLASSES],
        inner: Rect,
        y: u16,
        buf: &mut Buffer,
    ) {
        let theme = self.theme;
        let cw = usize::from(v.cell_w);
        let row_total: u32 = row.iter().sum();
        let name_w = usize::from(v.name_w.saturating_sub(1));
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let name = format!("{:<name_w$} ", v.row_name(t));
        let mut x = put(buf, inner, inner.x, y, &name, bold);
        x = x.max(inner.x.saturating_add(v.name_w));
        for (p, &n) in row.iter().enumerate() {
            let frac = if row_total > 0 {
                n as f32 / row_total as f32
            } else {
                0.0
            };
            let shown = if v.percent() && n > 0 {
                format!("{:.0}", (frac * 100.0).round().min(99.0))
            } else {
                fmt_count(n, cw.saturating_sub(1))
            };
            let text = format!("{shown:>cw$}");
            let mut style = theme.matrix_cell(frac, t == p);
            if self.cursor == Some((t, p)) {
                style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
            }
            x = put(buf, inner, x, y, &text, style);
        }
        if v.recall {
            let r = pct(m.recall_counts(t)).map_or("-".to_string(), |r| format!("{r}%"));
            let text = format!("{r:>w$}", w = usize::from(RECALL_W));
            put(buf, inner, x, y, &text, Style::new());
        }
    }

    /// Each predicted class's precision, under its column.
    fn precision_row(&self, v: Variant, m: &Confusion, inner: Rect, y: u16, buf: &mut Buffer) {
        let cw = usize::from(v.cell_w);
        let mut x = put(buf, inner, inner.x, y, "prec", self.theme.dim());
        x = x.max(inner.x.saturating_add(v.name_w));
        for p in 0..NUM_CLASSES {
            let s = pct(m.precision_counts(p)).map_or("-".to_string(), |r| format!("{r}%"));
            x = put(buf, inner, x, y, &format!("{s:>cw$}"), Style::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_is_the_largest_off_diagonal() {
        let mut m = [[0u32; NUM_CLASSES]; NUM_CLASSES];
        m[6][6] = 700;
        m[6][0] = 112;
        m[0][6] = 90;
        assert_eq!(worst_confusion(&m), Some((6, 0, 112)));
        assert_eq!(worst_confusion(&[[0; NUM_CLASSES]; NUM_CLASSES]), None);
    }

    #[test]
    fn variants_shrink_with_width() {
        assert_eq!(Variant::pick(80), VARIANTS[0]);
        assert_eq!(Variant::pick(55), VARIANTS[1]);
        assert!(!Variant::pick(40).precision);
        assert_eq!(Variant::pick(3), VARIANTS[5]);
        assert_eq!(fmt_count(1000, 3), "1k");
        assert_eq!(fmt_count(999, 3), "999");
        assert_eq!(fmt_count(0, 3), "·");
    }
}
