//! The "Feature maps" pane: the input image of one test sample and the channels of the
//! selected conv layer as small heatmaps, with a caption and a colour scale for the layer's
//! min and max. ←/→ pick the sample, ↑/↓ the layer (see [`crate::ui::keys`]).

use crate::ui::widgets::empty_pane;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::train::events::{FeatureMaps, LayerMaps};
use crate::ui::panes::Features;
use crate::ui::panes::Pane;
use crate::ui::theme::{Palette, Theme};
use crate::ui::widgets::pixels::{activation, image, scale_bar};
use crate::ui::widgets::{class_name, pane_block, put, short_name, with_info};

pub struct FeatureMapsView<'a> {
    pub features: &'a Features,
    pub theme: &'a Theme,
    pub focused: bool,
}

/// Pixels on the longer side that a channel tile is scaled up towards.
const TILE_TARGET: usize = 12;

/// How a layer's channels tile an area: tile size, and where the tiles go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tiling {
    scale: usize,
    /// Tile size in cells.
    w: u16,
    h: u16,
    /// A blank row between tile rows, when it costs no row of tiles.
    gap_y: u16,
}

impl Tiling {
    fn new(layer: &LayerMaps, area: Rect) -> Tiling {
        let side = layer.width.max(layer.height).max(1);
        let scale = (TILE_TARGET / side).max(1);
        let w = u16::try_from(layer.width.saturating_mul(scale)).unwrap_or(u16::MAX);
        let h = u16::try_from(layer.height.saturating_mul(scale).div_ceil(2)).unwrap_or(u16::MAX);
        let tight = area.height / h.max(1);
        let loose = area.height.saturating_add(1) / h.saturating_add(1);
        Tiling {
            scale,
            w,
            h,
            gap_y: u16::from(loose == tight),
        }
    }

    /// Top-left corners of up to `limit` tiles, row by row, flowing around a `reserved`
    /// (width, height) block in the area's top-left corner (the input image).
    fn positions(&self, area: Rect, reserved: (u16, u16), limit: usize) -> Vec<(u16, u16)> {
        let mut out = Vec::new();
        if self.w == 0 || self.h == 0 {
            return out;
        }
        let mut y = 0u16;
        while y.saturating_add(self.h) <= area.height && out.len() < limit {
            let mut x = if y < reserved.1 { reserved.0 } else { 0 };
            while x.saturating_add(self.w) <= area.width && out.len() < limit {
                out.push((area.x.saturating_add(x), area.y.saturating_add(y)));
                x = x.saturating_add(self.w.saturating_add(1));
            }
            y = y.saturating_add(self.h + self.gap_y);
        }
        out
    }
}

impl Widget for FeatureMapsView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (features, theme) = (self.features, self.theme);
        let mut block = pane_block(Pane::Features, self.focused, theme);
        let Some(fm) = &features.maps else {
            empty_pane(
                block,
                "waiting for the first feature maps…",
                area,
                buf,
                theme,
            );
            return;
        };
        let info = [
            format!("weights @ epoch {:.1}", fm.at_epoch),
            format!("@ {:.1}", fm.at_epoch),
        ];
        block = with_info(block, Pane::Features, area.width, &info, theme.dim());
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.is_empty() {
            return;
        }
        let layer_idx = features.layer.min(fm.layers.len().saturating_sub(1));
        let layer = fm.layers.get(layer_idx);

        // Row 0: sample and layer selector, with short class names if it is tight.
        let mut line = selector_line(features.requested, fm, layer_idx, theme, false);
        if line.width() > usize::from(inner.width) {
            line = selector_line(features.requested, fm, layer_idx, theme, true);
        }
        line.render(Rect { height: 1, ..inner }, buf);

        // Bottom: caption, and the colour scale on its own row when there is room.
        let scale_row = inner.height >= 12;
        let bottom_rows = match (layer.is_some(), scale_row) {
            (false, _) => 0,
            (true, true) => 2,
            (true, false) => 1,
        };
        let body = Rect {
            y: inner.y.saturating_add(1),
            height: inner.height.saturating_sub(1 + bottom_rows),
            ..inner
        };

        // The input image in the top-left corner, the channels flowing around it. Full
        // size when that still shows at least half as many channels as halving it would.
        let (full, half) = (image(&fm.pixels[..], false), image(&fm.pixels[..], true));
        const FULL: (u16, u16) = (30, 15);
        const HALF: (u16, u16) = (16, 8);
        let fits = |r: (u16, u16)| body.width >= r.0 - 2 && body.height >= r.1 - 1;
        let count = |r: (u16, u16)| {
            layer.map_or(0, |l| {
                Tiling::new(l, body).positions(body, r, l.channels).len()
            })
        };
        let reserved = if fits(FULL) && count(FULL) * 2 >= count(HALF) {
            full.draw(buf, body.x, body.y, body, theme, Palette::Gray);
            FULL
        } else if fits(HALF) {
            half.draw(buf, body.x, body.y, body, theme, Palette::Gray);
            HALF
        } else {
            (0, 0)
        };

        let Some(layer) = layer else { return };
        let tiling = Tiling::new(layer, body);
        let spots = tiling.positions(body, reserved, layer.channels);
        let shown = spots.len();
        for (c, &(x, y)) in spots.iter().enumerate() {
            activation(
                layer.channel(c),
                layer.width,
                layer.height,
                layer.min,
                layer.max,
                tiling.scale,
            )
            .draw(buf, x, y, body, theme, Palette::Heat);
        }

        let caption_y = body.bottom();
        let caption = format!(
            "layer {} · {} ch · {}×{} · min {} max {}",
            layer.name,
            layer.channels,
            layer.width,
            layer.height,
            fmt_value(layer.min),
            fmt_value(layer.max)
        );
        let end = put(buf, inner, inner.x, caption_y, &caption, Style::new());
        let (bar_x, bar_y) = if scale_row {
            (inner.x, caption_y.saturating_add(1))
        } else {
            (end.saturating_add(2), caption_y)
        };
        let bar_w = inner.right().saturating_sub(bar_x).min(24);
        let lo = fmt_value(layer.min);
        let hi = fmt_value(layer.max);
        let labels = u16::try_from(lo.len() + hi.len() + 2).unwrap_or(u16::MAX);
        let mut after = bar_x;
        if bar_w > labels + 4 {
            let x = put(buf, inner, bar_x, bar_y, &format!("{lo} "), theme.dim());
            let w = bar_w - labels;
            scale_bar(buf, x, bar_y, w, inner, theme, Palette::Heat);
            after = put(
                buf,
                inner,
                x.saturating_add(w),
                bar_y,
                &format!(" {hi}"),
                theme.dim(),
            );
        }
        if shown < layer.channels && scale_row {
            let more = format!("   showing {shown} of {} · z zooms", layer.channels);
            put(buf, inner, after, bar_y, &more, theme.dim());
        }
    }
}

/// `#1234 Coat → Shirt  input ▸conv1◂ conv2 conv3`.
fn selector_line<'a>(
    requested: Option<usize>,
    fm: &FeatureMaps,
    layer_idx: usize,
    theme: &Theme,
    tight: bool,
) -> Line<'a> {
    let wrong = fm.label != fm.predicted;
    let verdict = if wrong { theme.bad() } else { theme.good() };
    let (label, predicted) = (usize::from(fm.label), usize::from(fm.predicted));
    let verdict_text = if tight {
        format!("{}→{}", short_name(label), short_name(predicted))
    } else {
        format!("{} → {}", class_name(label), class_name(predicted))
    };
    let mut spans = vec![
        Span::styled(
            format!("#{} ", fm.index),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::styled(verdict_text, verdict),
    ];
    if let Some(req) = requested.filter(|&r| r != fm.index) {
        let text = if tight {
            format!(" (#{req}…)")
        } else {
            format!("  (loading #{req}…)")
        };
        spans.push(Span::styled(text, theme.warn()));
    }
    spans.push(Span::raw(if tight { " " } else { "  " }));
    for (i, l) in fm.layers.iter().enumerate() {
        let style = if i == layer_idx {
            theme
                .accent()
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            theme.dim()
        };
        spans.push(Span::styled(format!(" {} ", l.name), style));
    }
    Line::from(spans)
}

/// Activation values: 2 decimals near 1, fewer digits for big ones.
fn fmt_value(v: f32) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(c: usize, w: usize) -> LayerMaps {
        LayerMaps {
            name: "conv".into(),
            channels: c,
            height: w,
            width: w,
            values: vec![0.0; c * w * w],
            min: 0.0,
            max: 1.0,
        }
    }

    #[test]
    fn tiling_scales_small_maps_and_flows_around_the_image() {
        let area = Rect::new(2, 3, 60, 16);
        let t = Tiling::new(&layer(32, 13), area);
        assert_eq!((t.scale, t.w, t.h, t.gap_y), (1, 13, 7, 1));
        // 4 per row, two rows, no image.
        assert_eq!(t.positions(area, (0, 0), 100).len(), 8);
        // Row 0 starts right of a 16×8 image; row 1 (y = 8) is below it.
        let p = t.positions(area, (16, 8), 100);
        assert_eq!(p[0], (18, 3));
        assert_eq!(p[3], (2, 11));
        assert_eq!(p.len(), 7);
        assert_eq!(t.positions(area, (0, 0), 5).len(), 5);
        let t = Tiling::new(&layer(128, 2), area);
        assert_eq!((t.scale, t.w, t.h), (6, 12, 6));
        let t = Tiling::new(&layer(1, 0), Rect::new(0, 0, 0, 0));
        assert!(t.positions(Rect::new(0, 0, 0, 0), (0, 0), 9).is_empty());
    }
}
