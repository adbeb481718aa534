//! The "Predictions" pane: a grid of test images with `true → predicted (confidence)`,
//! mistakes in red. `m` switches between the fixed random sample and the most confident
//! mistakes. Images are full size (28×14 cells) when enough fit, else halved (14×7).

use crate::ui::widgets::empty_pane;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;

use crate::train::events::Prediction;
use crate::ui::panes::Pane;
use crate::ui::panes::{PredictionsMode, PredictionsPane};
use crate::ui::theme::{Palette, Theme};
use crate::ui::widgets::pixels::image;
use crate::ui::widgets::{class_name, pane_block, put, short_name, waiting, with_info};

pub struct PredictionsGrid<'a> {
    pub predictions: &'a PredictionsPane,
    pub theme: &'a Theme,
    pub focused: bool,
}

/// Tile geometry: image cells plus one caption row, and the pitch between tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TileSize {
    half: bool,
    pitch_x: u16,
    pitch_y: u16,
}

const FULL: TileSize = TileSize {
    half: false,
    pitch_x: 30,
    pitch_y: 15,
};
const HALF: TileSize = TileSize {
    half: true,
    pitch_x: 15,
    pitch_y: 8,
};

impl TileSize {
    /// Tiles that fit in `area` (the last column needs no gap after it).
    fn capacity(&self, area: Rect) -> (u16, u16) {
        let img_w = if self.half { 14 } else { 28 };
        let cols = if area.width >= img_w {
            1 + (area.width - img_w) / self.pitch_x
        } else {
            0
        };
        (cols, area.height / self.pitch_y)
    }
}

/// The caption of a tile: full names at full size, short ones when halved.
fn caption(p: &Prediction, half: bool) -> String {
    let pct = (p.confidence * 100.0).clamp(0.0, 100.0).round();
    if half {
        // "100%" would not fit a 14-cell caption.
        let pct = pct.min(99.0);
        format!(
            "{}→{} {pct:.0}%",
            short_name(usize::from(p.label)),
            short_name(usize::from(p.predicted))
        )
    } else {
        format!(
            "{} → {} ({pct:.0}%)",
            class_name(usize::from(p.label)),
            class_name(usize::from(p.predicted))
        )
    }
}

impl Widget for PredictionsGrid<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (pane, theme) = (self.predictions, self.theme);
        let mode = pane.mode;
        let mut block = pane_block(Pane::Predictions, self.focused, theme);
        let Some(preds) = &pane.latest else {
            empty_pane(block, "waiting for the first epoch…", area, buf, theme);
            return;
        };
        let (list, what, other) = match mode {
            PredictionsMode::Sample => (&preds.sample, "random sample", "mistakes"),
            PredictionsMode::Mistakes => (&preds.mistakes, "most confident mistakes", "sample"),
        };
        let wrong = list.iter().filter(|p| p.label != p.predicted).count();
        let info = [
            format!(
                "{what} · epoch {} · {wrong} wrong · m: {other}",
                preds.epoch
            ),
            format!("{what} · {wrong} wrong · m: {other}"),
            format!("{what} · m: {other}"),
            format!("m: {other}"),
        ];
        block = with_info(block, Pane::Predictions, area.width, &info, theme.dim());
        let inner = block.inner(area);
        let n = list.len().min(pane.limit);
        let cap = |t: TileSize| {
            let (c, r) = t.capacity(inner);
            (c, usize::from(c) * usize::from(r))
        };
        // Full size when that shows at least half as many images as halving would.
        let (_, full_cap) = cap(FULL);
        let (_, half_cap) = cap(HALF);
        let tile = if full_cap > 0 && full_cap * 2 >= half_cap.min(n) {
            FULL
        } else {
            HALF
        };
        let (cols, capacity) = cap(tile);
        if capacity > 0 && capacity < n {
            block = block.title_bottom(
                Line::styled(
                    format!(" showing {capacity} of {n} · z zooms "),
                    theme.dim(),
                )
                .right_aligned(),
            );
        }
        block.render(area, buf);
        if list.is_empty() {
            let msg = match mode {
                PredictionsMode::Sample => "no predictions yet",
                PredictionsMode::Mistakes => "no mistakes to show",
            };
            waiting(msg, inner, buf, theme);
            return;
        }
        let img_w = if tile.half { 14 } else { 28 };
        for (i, p) in list.iter().take(n.min(capacity)).enumerate() {
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            let x = inner
                .x
                .saturating_add((i % cols.max(1)).saturating_mul(tile.pitch_x));
            let y = inner
                .y
                .saturating_add((i / cols.max(1)).saturating_mul(tile.pitch_y));
            image(&p.pixels[..], tile.half).draw(buf, x, y, inner, theme, Palette::Gray);
            let ok = p.label == p.predicted;
            let style = if ok { theme.good() } else { theme.bad() };
            let text = caption(p, tile.half);
            let clip = Rect::new(x, inner.y, img_w + 1, inner.height).intersection(inner);
            put(
                buf,
                clip,
                x,
                y.saturating_add(tile.pitch_y - 1),
                &text,
                style,
            );
        }
        if capacity == 0 {
            waiting("too small for images", inner, buf, theme);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_fit_their_tiles() {
        let p = Prediction {
            index: 0,
            pixels: Box::new([0; 784]),
            label: 2,
            predicted: 2,
            confidence: 1.0,
        };
        assert_eq!(caption(&p, false), "Pullover → Pullover (100%)");
        assert!(caption(&p, false).chars().count() <= 28);
        for a in 0..10u8 {
            for b in 0..10u8 {
                let q = Prediction {
                    label: a,
                    predicted: b,
                    ..p.clone()
                };
                assert!(
                    caption(&q, true).chars().count() <= 14,
                    "{}",
                    caption(&q, true)
                );
            }
        }
    }
}
