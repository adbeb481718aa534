//! Images in the terminal. With colour, each cell shows two pixels stacked with the upper
//! half block `▀` (foreground = upper pixel, background = lower pixel), so a 28×28 image
//! takes 28×14 cells. Without colour, each cell shows one shading character (` ░▒▓█`) for
//! the mean of the same two pixels, so the layout is identical in every mode.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};

use crate::events::IMAGE_SIDE;
use crate::ui::theme::{Palette, Theme};

/// A `width × height` grid of pixels whose values (`0..=1`) come from a function.
pub struct Grid<F> {
    pub width: usize,
    pub height: usize,
    pub value: F,
}

impl<F: Fn(usize, usize) -> f32> Grid<F> {
    /// Cells the grid takes: `width` columns, `height / 2` rows rounded up.
    pub fn cells(&self) -> (u16, u16) {
        let w = u16::try_from(self.width).unwrap_or(u16::MAX);
        let h = u16::try_from(self.height.div_ceil(2)).unwrap_or(u16::MAX);
        (w, h)
    }

    /// Draw with the top-left cell at `(x, y)`, clipped to `clip` and the buffer.
    pub fn draw(
        &self,
        buf: &mut Buffer,
        x: u16,
        y: u16,
        clip: Rect,
        theme: &Theme,
        palette: Palette,
    ) {
        let clip = clip.intersection(buf.area);
        let (w, h) = self.cells();
        for cy in 0..h {
            let py = usize::from(cy) * 2;
            let Some(ty) = y.checked_add(cy) else { break };
            if ty >= clip.bottom() {
                break;
            }
            if ty < clip.top() {
                continue;
            }
            for cx in 0..w {
                let Some(tx) = x.checked_add(cx) else { break };
                if tx >= clip.right() {
                    break;
                }
                if tx < clip.left() {
                    continue;
                }
                let px = usize::from(cx);
                let upper = (self.value)(px, py);
                let has_lower = py + 1 < self.height;
                let lower = if has_lower {
                    (self.value)(px, py + 1)
                } else {
                    upper
                };
                let (ch, mut style) = theme.pixel_cell(palette, upper, lower);
                if !has_lower && theme.has_color() {
                    // Odd height: leave the lower half to the terminal's background.
                    style = style.bg(Color::Reset);
                }
                if let Some(cell) = buf.cell_mut((tx, ty)) {
                    cell.set_char(ch).set_style(style);
                }
            }
        }
    }
}

/// The source pixels `[lo, hi)` along one axis that output pixel `i` of `out` covers in a
/// picture `src` pixels long: one pixel when enlarging, a run of them when shrinking.
fn span(i: usize, out: usize, src: usize) -> (usize, usize) {
    let out = out.max(1);
    let lo = i.saturating_mul(src) / out;
    let hi = i.saturating_add(1).saturating_mul(src).div_ceil(out);
    (lo, hi.max(lo + 1))
}

/// A `src` picture (width, height) whose values come from `value`, drawn `out` pixels:
/// each output pixel the mean of the source pixels it touches: a run of them when
/// shrinking; when enlarging the one it lies in, or the two it straddles (never one
/// when enlarging by a whole multiple). Pixels outside the source read as 0.
fn resampled<'a>(
    src: (usize, usize),
    out: (usize, usize),
    value: impl Fn(usize, usize) -> f32 + 'a,
) -> Grid<impl Fn(usize, usize) -> f32 + 'a> {
    Grid {
        width: out.0,
        height: out.1,
        value: move |x: usize, y: usize| {
            let (x0, x1) = span(x, out.0, src.0);
            let (y0, y1) = span(y, out.1, src.1);
            let mut sum = 0.0;
            for yy in y0..y1 {
                for xx in x0..x1 {
                    sum += value(xx, yy);
                }
            }
            sum / ((x1 - x0) * (y1 - y0)) as f32
        },
    }
}

/// A 28×28 8-bit image drawn `side × side` pixels: 28 is full size (28×14 cells), 14
/// halves it (14×7 cells).
pub fn image(pixels: &[u8], side: usize) -> Grid<impl Fn(usize, usize) -> f32 + '_> {
    let px = move |x: usize, y: usize| -> f32 {
        pixels
            .get(y * IMAGE_SIDE + x)
            .map_or(0.0, |&v| f32::from(v) / 255.0)
    };
    resampled((IMAGE_SIDE, IMAGE_SIDE), (side, side), px)
}

/// One activation map of `width × height` values, normalised to `lo..hi` and drawn `out`
/// pixels (width, height).
pub fn activation(
    values: &[f32],
    width: usize,
    height: usize,
    lo: f32,
    hi: f32,
    out: (usize, usize),
) -> Grid<impl Fn(usize, usize) -> f32 + '_> {
    let span = hi - lo;
    let v = move |x: usize, y: usize| -> f32 {
        let v = values
            .get(y.saturating_mul(width).saturating_add(x))
            .copied()
            .filter(|_| x < width)
            .unwrap_or(lo);
        if span > 0.0 && span.is_finite() {
            ((v - lo) / span).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    resampled((width, height), out, v)
}

/// A horizontal colour scale from 0 to 1 across `width` cells.
pub fn scale_bar(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    width: u16,
    clip: Rect,
    theme: &Theme,
    palette: Palette,
) {
    let clip = clip.intersection(buf.area);
    if y < clip.top() || y >= clip.bottom() {
        return;
    }
    let denom = f32::from(width.saturating_sub(1).max(1));
    for i in 0..width {
        let Some(tx) = x.checked_add(i) else { break };
        if tx < clip.left() || tx >= clip.right() {
            continue;
        }
        let t = f32::from(i) / denom;
        let (ch, style) = theme.pixel_cell(palette, t, t);
        if let Some(cell) = buf.cell_mut((tx, y)) {
            cell.set_char(if theme.has_color() { ' ' } else { ch })
                .set_style(if theme.has_color() {
                    Style::new().bg(style.bg.unwrap_or(Color::Reset))
                } else {
                    style
                });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::theme::ColorMode;

    #[test]
    fn half_blocks_carry_upper_and_lower_pixels() {
        let mut px = [0u8; 784];
        px[0] = 255; // (0,0) white, (0,1) black
        let theme = Theme::new(ColorMode::TrueColor);
        let mut buf = Buffer::empty(Rect::new(0, 0, 30, 15));
        let g = image(&px, 28);
        assert_eq!(g.cells(), (28, 14));
        let all = buf.area;
        g.draw(&mut buf, 0, 0, all, &theme, Palette::Gray);
        let c = &buf[(0, 0)];
        assert_eq!(c.symbol(), "▀");
        assert_eq!(c.fg, Color::Rgb(255, 255, 255));
        assert_eq!(c.bg, Color::Rgb(0, 0, 0));
        assert_eq!(
            buf[(28, 0)].symbol(),
            " ",
            "nothing drawn outside the image"
        );
    }

    #[test]
    fn no_colour_uses_shading_characters() {
        let px = [255u8; 784];
        let theme = Theme::new(ColorMode::None);
        let mut buf = Buffer::empty(Rect::new(0, 0, 14, 7));
        let g = image(&px, 14);
        assert_eq!(g.cells(), (14, 7));
        let all = buf.area;
        g.draw(&mut buf, 0, 0, all, &theme, Palette::Gray);
        assert_eq!(buf[(13, 6)].symbol(), "█");
        assert_eq!(buf[(0, 0)].fg, Color::Reset);
    }

    #[test]
    fn clipping_never_panics() {
        let px = [128u8; 784];
        let theme = Theme::new(ColorMode::Ansi16);
        for (w, h) in [(0, 0), (1, 1), (5, 2)] {
            let mut buf = Buffer::empty(Rect::new(3, 4, w, h));
            image(&px, 28).draw(
                &mut buf,
                0,
                0,
                Rect::new(0, 0, 100, 100),
                &theme,
                Palette::Gray,
            );
            let all = buf.area;
            image(&px, 28).draw(
                &mut buf,
                u16::MAX - 2,
                u16::MAX - 1,
                all,
                &theme,
                Palette::Gray,
            );
            scale_bar(
                &mut buf,
                0,
                4,
                40,
                Rect::new(0, 0, 100, 100),
                &theme,
                Palette::Heat,
            );
        }
    }

    #[test]
    fn activation_upscales_and_normalises() {
        let v = [0.0f32, 1.0, 2.0, 3.0];
        let g = activation(&v, 2, 2, 0.0, 3.0, (6, 6));
        assert_eq!((g.width, g.height), (6, 6));
        assert_eq!((g.value)(0, 0), 0.0);
        assert_eq!((g.value)(5, 5), 1.0);
        assert_eq!((g.value)(3, 0), 1.0 / 3.0);
        let flat = activation(&v, 2, 2, 1.0, 1.0, (2, 2));
        assert_eq!((flat.value)(1, 1), 0.0);
        // Shrunk: each pixel the mean of those it covers.
        let one = activation(&v, 2, 2, 0.0, 3.0, (1, 1));
        assert_eq!((one.value)(0, 0), 0.5);
        let g = activation(&[], 0, 0, 0.0, 1.0, (3, 3));
        assert_eq!((g.value)(2, 2), 0.0);
    }

    #[test]
    fn images_shrink_by_averaging() {
        let mut px = [0u8; 784];
        px[0] = 255;
        let half = image(&px, 14);
        assert_eq!((half.value)(0, 0), 0.25);
        let small = image(&px, 7);
        assert_eq!((small.value)(0, 0), 1.0 / 16.0);
        // 28 → 10: every source pixel is covered, the last one too.
        let mut px = [0u8; 784];
        px[783] = 255;
        let ten = image(&px, 10);
        assert!((ten.value)(9, 9) > 0.0);
        assert_eq!(span(0, 10, 28), (0, 3));
        assert_eq!(span(9, 10, 28), (25, 28));
        assert_eq!(span(5, 26, 13), (2, 3));
        assert_eq!(span(0, 0, 0), (0, 1));
    }
}
