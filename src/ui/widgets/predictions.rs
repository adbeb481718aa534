//! The "Predictions" pane: a grid of test images with `true → predicted (confidence)`,
//! mistakes in red. `m` switches between the fixed random sample and the most confident
//! mistakes; a confusion cell opened with Enter shows its images (off the diagonal the
//! most confident first, on it the least). The image under the cursor is framed while the
//! pane is focused. The images are as large as the pane allows with every one of them showing
//! (full size is 28×14 cells; see [`grid`]), the captions as long as their tiles allow.

use crate::ui::widgets::empty_pane;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Modifier;
use ratatui::text::Line;
use ratatui::widgets::{Block, Widget};

use crate::events::{Prediction, IMAGE_SIDE};
use crate::ui::panes::predictions::Shown;
use crate::ui::panes::Pane;
use crate::ui::panes::{PredictionsMode, PredictionsPane};
use crate::ui::theme::{Palette, Theme};
use crate::ui::widgets::grid::{self, Fit, Items};
use crate::ui::widgets::pixels::image;
use crate::ui::widgets::{class_name, pane_block, put, short_name, waiting, with_info};

pub struct PredictionsGrid<'a> {
    pub predictions: &'a PredictionsPane,
    pub theme: &'a Theme,
    pub focused: bool,
    /// Whether `z` would give the pane more room (it is one of several on the screen).
    pub can_zoom: bool,
}

/// Images are drawn at most full size, and no smaller than a caption of short names
/// (`Snkr→Shrt`) can be read under them.
const MAX_SIDE: usize = IMAGE_SIDE;
const MIN_SIDE: usize = 8;

/// How much a caption says: full names with the confidence, short names with it, short
/// names alone, or their first three letters (as the confusion matrix's header has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caption {
    Full,
    Short,
    Bare,
    Three,
}

/// The caption of one tile.
fn caption(p: &Prediction, how: Caption) -> String {
    let pct = (p.confidence * 100.0).clamp(0.0, 100.0).round();
    let (label, predicted) = (usize::from(p.label), usize::from(p.predicted));
    let (a, b) = (short_name(label), short_name(predicted));
    let three = |name: &str| name.chars().take(3).collect::<String>();
    match how {
        Caption::Full => format!(
            "{} → {} ({pct:.0}%)",
            class_name(label),
            class_name(predicted)
        ),
        // "100%" would not fit a 14-cell caption.
        Caption::Short => format!("{a}→{b} {:.0}%", pct.min(99.0)),
        Caption::Bare => format!("{a}→{b}"),
        Caption::Three => format!("{}→{}", three(a), three(b)),
    }
}

/// The most a caption can say in `room` columns under every tile of `shown`: one kind
/// for the whole grid, so that the captions read alike.
fn caption_kind(shown: &[Prediction], room: usize) -> Caption {
    [Caption::Full, Caption::Short, Caption::Bare]
        .into_iter()
        .find(|&how| {
            shown
                .iter()
                .all(|p| caption(p, how).chars().count() <= room)
        })
        .unwrap_or(Caption::Three)
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
        let shown = pane.shown();
        let list = &shown.list;
        let info = title(pane, preds.epoch, &shown);
        block = with_info(block, Pane::Predictions, area.width, &info, theme.dim());
        let inner = block.inner(area);
        let n = list.len().min(pane.limit);
        let fit = fit(inner, n);
        if fit.shown > 0 && fit.shown < n {
            let zoom = if self.can_zoom { " · z zooms" } else { "" };
            block = block.title_bottom(
                Line::styled(format!(" showing {} of {n}{zoom} ", fit.shown), theme.dim())
                    .right_aligned(),
            );
        }
        block.render(area, buf);
        if list.is_empty() {
            let msg = match mode {
                PredictionsMode::Sample => "no predictions yet",
                PredictionsMode::Mistakes => "no mistakes to show",
                PredictionsMode::Cell { .. } if pane.images.is_none() => "no test images yet",
                PredictionsMode::Cell { .. } => "no images in this cell",
            };
            waiting(msg, inner, buf, theme);
            return;
        }
        if fit.shown == 0 {
            waiting("too small for images", inner, buf, theme);
            return;
        }
        let spots = grid::positions(inner, (0, 0), &fit);
        let columns = spots.iter().take_while(|s| s.1 == spots[0].1).count();
        pane.columns.set(columns.max(1));
        let drawn = &list[..spots.len().min(list.len())];
        let how = caption_kind(drawn, usize::from(fit.tile.0));
        let cursor = pane.cursor.min(drawn.len().saturating_sub(1));
        for (i, (p, &(x, y))) in drawn.iter().zip(&spots).enumerate() {
            image(&p.pixels[..], fit.px.0).draw(buf, x, y, inner, theme, Palette::Gray);
            let ok = p.label == p.predicted;
            let mut style = if ok { theme.good() } else { theme.bad() };
            if self.focused && i == cursor {
                // The image under the cursor: its caption reversed, marked before it.
                style = style.add_modifier(Modifier::REVERSED);
                if x > inner.x {
                    put(buf, inner, x - 1, y, "▶", theme.accent());
                }
            }
            let clip = Rect::new(x, inner.y, fit.tile.0, inner.height).intersection(inner);
            let below = y.saturating_add(fit.tile.1.saturating_sub(1));
            put(buf, clip, x, below, &caption(p, how), style);
        }
    }
}

/// How `n` images tile the pane's `inner` area.
fn fit(inner: Rect, n: usize) -> Fit {
    let items = Items {
        px: (IMAGE_SIDE, IMAGE_SIDE),
        count: n,
        caption: 1,
        min_side: MIN_SIDE,
        max_side: MAX_SIDE,
    };
    grid::fit((inner.width, inner.height), (0, 0), &items)
}

/// Which of the images `pane` shows (its place in the list, as the cursor counts) is drawn
/// at `(x, y)` when the pane fills `area`: its picture or its caption.
pub fn image_at(pane: &PredictionsPane, area: Rect, x: u16, y: u16) -> Option<usize> {
    pane.latest.as_ref()?;
    let inner = Block::bordered().inner(area);
    let n = pane.shown().list.len().min(pane.limit);
    let fit = fit(inner, n);
    grid::positions(inner, (0, 0), &fit)
        .iter()
        .position(|&(sx, sy)| Rect::new(sx, sy, fit.tile.0, fit.tile.1).contains(Position { x, y }))
}

/// The pane's title after its name, longest first: what the grid shows and its keys.
fn title(pane: &PredictionsPane, epoch: usize, shown: &Shown) -> Vec<String> {
    let (what, other) = match pane.mode {
        PredictionsMode::Sample => ("random sample".to_string(), "m: mistakes"),
        PredictionsMode::Mistakes => ("most confident mistakes".to_string(), "m: sample"),
        PredictionsMode::Cell { label, predicted } => {
            let order = if label == predicted {
                "least confident first"
            } else {
                "most confident first"
            };
            let n = shown.total;
            let images = format!("{n} image{}", if n == 1 { "" } else { "s" });
            let cell = format!("{} → {}", class_name(label), class_name(predicted));
            let short = format!("{}→{}", short_name(label), short_name(predicted));
            return vec![
                format!("{cell} · {images} · {order} · Esc: sample"),
                format!("{cell} · {images} · {order}"),
                format!("{cell} · {images}"),
                format!("{short} · {images}"),
                images,
            ];
        }
    };
    let wrong = shown.list.iter().filter(|p| p.label != p.predicted).count();
    vec![
        format!("{what} · epoch {epoch} · {wrong} wrong · {other}"),
        format!("{what} · {wrong} wrong · {other}"),
        format!("{what} · {other}"),
        other.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_fit_their_tiles_and_read_alike() {
        let p = Prediction {
            index: 0,
            pixels: Box::new([0; 784]),
            label: 2,
            predicted: 2,
            confidence: 1.0,
        };
        let one = std::slice::from_ref(&p);
        let at = |room| caption(&p, caption_kind(one, room));
        assert_eq!(at(28), "Pullover → Pullover (100%)");
        assert_eq!(at(14), "Pull→Pull 99%");
        assert_eq!(at(9), "Pull→Pull");
        assert_eq!(at(8), "Pul→Pul");
        let all: Vec<Prediction> = (0..100u8)
            .map(|i| Prediction {
                label: i / 10,
                predicted: i % 10,
                ..p.clone()
            })
            .collect();
        for room in [28, 14, 9, 8, 7] {
            let how = caption_kind(&all, room);
            for q in &all {
                assert!(caption(q, how).chars().count() <= room, "{room}: {how:?}");
            }
        }
        // One long pair shortens every caption of the grid.
        let coat = Prediction {
            label: 4,
            predicted: 0,
            ..p.clone()
        };
        assert_eq!(caption_kind(std::slice::from_ref(&coat), 8), Caption::Bare);
        assert_eq!(caption_kind(&[coat, all[77].clone()], 8), Caption::Three);
    }
}
