//! Fitting a grid of same-sized pictures (a layer's channels, test images) into a pane:
//! the largest size at which every item shows, else the size that shows the most, and
//! where each tile goes, flowing around a block kept free in the top-left corner (the
//! input image of the Feature maps pane).
//!
//! Sizes are in pixels along the item's longer side. A pixel is one cell wide and half a
//! cell tall (the upper half block `▀` carries two), so a picture `w × h` pixels takes
//! `w` columns and `h / 2` rows, rounded up. Pictures are drawn at any size between the
//! smallest and the largest allowed (see [`crate::ui::widgets::pixels`] for how).

use ratatui::layout::Rect;

/// What to fit: `count` items of `px` pixels, each with `caption` rows of text under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Items {
    /// One item's size in pixels (width, height).
    pub px: (usize, usize),
    pub count: usize,
    pub caption: u16,
    /// The smallest and largest drawn size, in pixels along the longer side. The
    /// smallest is never above the item's own size.
    pub min_side: usize,
    pub max_side: usize,
}

/// How the items tile an area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    /// The drawn size of one item in pixels (width, height).
    pub px: (usize, usize),
    /// One tile in cells (width, height): the picture and its caption.
    pub tile: (u16, u16),
    /// Blank rows between two rows of tiles: 1, or 0 when that shows more. Columns are
    /// always one blank column apart.
    pub gap_y: u16,
    /// Tiles in a row that spans the whole width.
    pub cols: u16,
    /// Rows of tiles used.
    pub rows: u16,
    /// Items that fit (at most `count`).
    pub shown: usize,
}

impl Fit {
    /// Whether every item shows.
    pub fn all(&self, items: &Items) -> bool {
        self.shown >= items.count
    }

    /// Whether rows of tiles stand apart: a blank row between them, a caption under each,
    /// or half a row left blank by an odd picture height.
    pub fn apart(&self) -> bool {
        self.gap_y > 0 || self.tile.1 > cells(self.px.1.div_ceil(2)) || self.px.1 % 2 == 1
    }
}

/// The drawn sizes to try, largest first: from `max_side` down to `min_side` (or the
/// item's own size, when that is smaller).
pub fn sides(items: &Items) -> Vec<usize> {
    let long = items.px.0.max(items.px.1);
    if long == 0 {
        return Vec::new();
    }
    let top = items.max_side.max(1);
    let low = items.min_side.clamp(1, long).min(top);
    (low..=top).rev().collect()
}

/// The item drawn `side` pixels along its longer side: its size in pixels.
pub fn scaled(px: (usize, usize), side: usize) -> (usize, usize) {
    let long = px.0.max(px.1).max(1);
    let s = |v: usize| v.saturating_mul(side).div_ceil(long).max(1);
    (s(px.0), s(px.1))
}

fn cells(v: usize) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

/// Where tiles of `tile` cells go in an area of `area` cells, rows `tile.1 + gap_y` apart
/// and columns one blank column apart, row by row, with the top-left block `reserved`
/// (width, height; its own margin included) kept free; at most `limit`. Positions are
/// relative to the area's top-left corner.
pub fn spots(
    area: (u16, u16),
    reserved: (u16, u16),
    tile: (u16, u16),
    gap_y: u16,
    limit: usize,
) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    let (w, h) = area;
    if tile.0 == 0 || tile.1 == 0 {
        return out;
    }
    let mut y = 0u16;
    while y.checked_add(tile.1).is_some_and(|end| end <= h) && out.len() < limit {
        let mut x = if y < reserved.1 { reserved.0 } else { 0 };
        while x.checked_add(tile.0).is_some_and(|end| end <= w) && out.len() < limit {
            out.push((x, y));
            let Some(next) = x.checked_add(tile.0.saturating_add(1)) else {
                break;
            };
            x = next;
        }
        let Some(next) = y.checked_add(tile.1.saturating_add(gap_y)) else {
            break;
        };
        y = next;
    }
    out
}

/// The fit of `items` in an area of `area` cells with the top-left block `reserved` kept
/// free: the largest size that shows every item with the rows of tiles apart (a blank
/// row between them, or none when the pictures' odd height leaves half a row blank);
/// failing that, the largest that shows them all with rows touching; failing that, the
/// size that shows the most (the larger of equals). Never fails: in an area too small for
/// anything, `shown` is 0.
pub fn fit(area: (u16, u16), reserved: (u16, u16), items: &Items) -> Fit {
    let candidates: Vec<Fit> = sides(items)
        .into_iter()
        .flat_map(|side| [1, 0].map(|gap_y| place(area, reserved, items, side, gap_y)))
        .collect();
    let all = |f: &&Fit| f.all(items);
    candidates
        .iter()
        .filter(all)
        .find(|f| f.apart())
        .or_else(|| candidates.iter().find(all))
        .copied()
        .or_else(|| {
            // The first of the most: the largest size, a gap row rather than none.
            candidates.iter().rev().max_by_key(|f| f.shown).copied()
        })
        .unwrap_or(Fit {
            px: (0, 0),
            tile: (0, 0),
            gap_y: 0,
            cols: 0,
            rows: 0,
            shown: 0,
        })
}

/// `items` drawn `side` pixels, their rows `gap_y` apart, in `area` around `reserved`.
fn place(area: (u16, u16), reserved: (u16, u16), items: &Items, side: usize, gap_y: u16) -> Fit {
    let px = scaled(items.px, side);
    let tile = (
        cells(px.0),
        cells(px.1.div_ceil(2)).saturating_add(items.caption),
    );
    let at = spots(area, reserved, tile, gap_y, items.count);
    let mut ys: Vec<u16> = at.iter().map(|p| p.1).collect();
    ys.dedup();
    let cols = if tile.0 <= area.0 {
        (area.0 - tile.0) / tile.0.saturating_add(1) + 1
    } else {
        0
    };
    Fit {
        px,
        tile,
        gap_y,
        cols,
        rows: cells(ys.len()),
        shown: at.len(),
    }
}

/// The tiles of `fit` placed in `area` (absolute positions), around `reserved`.
pub fn positions(area: Rect, reserved: (u16, u16), fit: &Fit) -> Vec<(u16, u16)> {
    spots(
        (area.width, area.height),
        reserved,
        fit.tile,
        fit.gap_y,
        fit.shown,
    )
    .into_iter()
    .map(|(x, y)| (area.x.saturating_add(x), area.y.saturating_add(y)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(side: usize, count: usize, caption: u16, min: usize, max: usize) -> Items {
        Items {
            px: (side, side),
            count,
            caption,
            min_side: min,
            max_side: max,
        }
    }

    #[test]
    fn sizes_go_from_the_largest_down_to_the_smallest() {
        let s = sides(&items(13, 1, 0, 4, 32));
        assert_eq!((s.len(), s[0], s[28]), (29, 32, 4));
        assert_eq!(sides(&items(2, 1, 0, 4, 8)), [8, 7, 6, 5, 4, 3, 2]);
        assert_eq!(sides(&items(28, 1, 1, 8, 28))[..3], [28, 27, 26]);
        assert_eq!(
            sides(&items(28, 1, 1, 8, 20))[0],
            20,
            "never above the largest"
        );
        assert!(sides(&items(0, 1, 0, 4, 32)).is_empty());
        assert_eq!(scaled((13, 13), 6), (6, 6));
        assert_eq!(scaled((28, 14), 14), (14, 7));
    }

    #[test]
    fn every_item_shows_at_the_largest_size_that_holds_them_all() {
        // 16 test images with a caption in a 55×22 pane: 8 px, six a row, three rows.
        let preds = items(28, 16, 1, 8, 28);
        let f = fit((55, 22), (0, 0), &preds);
        assert_eq!(
            (f.px, f.tile, f.cols, f.rows, f.shown),
            ((8, 8), (8, 5), 6, 3, 16)
        );
        // With the room of the whole screen they grow.
        let f = fit((156, 40), (0, 0), &preds);
        assert!(f.all(&preds) && f.px.0 >= 18, "{f:?}");
        // Four fit at full size.
        let f = fit((60, 32), (0, 0), &items(28, 4, 1, 8, 28));
        assert_eq!((f.px.0, f.cols, f.rows, f.shown), (28, 2, 2, 4));
        // 32 channels of 13×13 in 55×15: 6 px, eight a row, four rows a blank row apart.
        let ch = items(13, 32, 0, 4, 52);
        let f = fit((55, 15), (0, 0), &ch);
        assert_eq!(
            (f.px, f.tile, f.gap_y, f.cols, f.rows),
            ((6, 6), (6, 3), 1, 8, 4)
        );
        // 128 maps of 2×2 are enlarged as far as they all fit.
        let f = fit((55, 15), (0, 0), &items(2, 128, 0, 2, 8));
        assert_eq!(f.px, (2, 2));
        assert!(f.all(&items(2, 128, 0, 2, 8)));
        let f = fit((156, 40), (0, 0), &items(2, 128, 0, 2, 8));
        assert_eq!(f.px, (8, 8));
    }

    #[test]
    fn rows_touch_only_when_no_size_shows_every_item_apart() {
        // 9 tiles of 4×2 cells in 14×6: a gap row leaves two rows (6), none three (9).
        let f = fit((14, 6), (0, 0), &items(4, 9, 0, 4, 4));
        assert_eq!((f.gap_y, f.cols, f.rows, f.shown), (0, 3, 3, 9));
        assert!(!f.apart());
        let f = fit((14, 6), (0, 0), &items(4, 6, 0, 4, 4));
        assert_eq!((f.gap_y, f.rows, f.shown), (1, 2, 6));
        // 4 px tall apart beats 6 px touching: 6×6 maps, 4 of them in 13×5.
        let f = fit((13, 5), (0, 0), &items(6, 4, 0, 4, 6));
        assert_eq!((f.px, f.gap_y, f.shown), ((4, 4), 1, 4));
        // An odd height leaves half a row blank: no gap row needed. 32 maps of 13×13
        // around a 16×8 corner in 55×15: 5 px, rows touching.
        let f = fit((55, 15), (16, 8), &items(13, 32, 0, 4, 52));
        assert_eq!((f.px, f.gap_y, f.shown), ((5, 5), 0, 32));
        assert!(f.apart());
    }

    #[test]
    fn when_nothing_holds_them_all_the_most_show() {
        let f = fit((20, 8), (0, 0), &items(28, 16, 1, 8, 28));
        assert_eq!((f.px.0, f.cols, f.rows, f.shown), (9, 2, 1, 2));
        assert!(!f.all(&items(28, 16, 1, 8, 28)));
    }

    #[test]
    fn tiles_flow_around_the_reserved_corner() {
        let t = items(13, 100, 0, 13, 13);
        let f = fit((60, 16), (16, 8), &t);
        assert_eq!((f.tile, f.gap_y), ((13, 7), 1));
        let p = positions(Rect::new(2, 3, 60, 16), (16, 8), &f);
        // Row 0 starts right of the corner; row 1 (y = 8) is below it.
        assert_eq!(p[0], (18, 3));
        assert_eq!(p[3], (2, 11));
        assert_eq!(p.len(), 7);
    }

    #[test]
    fn tiny_and_empty_areas_never_panic_and_show_nothing() {
        for area in [(0, 0), (1, 1), (0, 50), (50, 0), (u16::MAX, 1)] {
            for it in [
                items(28, 16, 1, 8, 28),
                items(13, 32, 0, 4, 52),
                items(2, 128, 0, 2, 8),
                items(0, 3, 0, 0, 0),
                items(28, 0, 1, 8, 28),
            ] {
                let f = fit(area, (0, 0), &it);
                if area.0 < 2 || area.1 < 1 || it.count == 0 || it.px.0 == 0 {
                    assert_eq!(f.shown, 0, "{area:?} {it:?}: {f:?}");
                }
                let _ = positions(Rect::new(0, 0, area.0, area.1), (9, 9), &f);
                let _ = fit(area, (u16::MAX, u16::MAX), &it);
            }
        }
        assert!(spots((10, 10), (0, 0), (0, 3), 1, 5).is_empty());
    }
}
