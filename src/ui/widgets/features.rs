//! The "Feature maps" pane: the input image of one test sample and the channels of the
//! selected conv layer as small heatmaps, with a caption and a colour scale for the layer's
//! min and max. The heatmaps are as large as the pane allows with every channel showing
//! (see [`grid`]). ←/→ pick the sample, ↑/↓ the layer (see [`crate::ui::keys`]).

use crate::ui::widgets::empty_pane;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::events::{FeatureMaps, LayerMaps, IMAGE_SIDE};
use crate::ui::panes::Features;
use crate::ui::panes::Pane;
use crate::ui::theme::{Palette, Theme};
use crate::ui::widgets::grid::{self, Fit, Items};
use crate::ui::widgets::pixels::{activation, image, scale_bar};
use crate::ui::widgets::{class_name, pane_block, put, short_name, with_info};

pub struct FeatureMapsView<'a> {
    pub features: &'a Features,
    pub theme: &'a Theme,
    pub focused: bool,
    /// Whether `z` would give the pane more room (it is one of several on the screen).
    pub can_zoom: bool,
}

/// Channel maps are shrunk to no fewer pixels a side than this (or their own size).
const MIN_SIDE: usize = 4;
/// …and enlarged to at most four times their size, and at most this many pixels.
const MAX_SIDE: usize = 32;

/// No channels: what an empty layer list fits.
const NOTHING: Items = Items {
    px: (1, 1),
    count: 0,
    caption: 0,
    min_side: 1,
    max_side: 1,
};

/// How the body of the pane is shared: the input image in the top-left corner, drawn
/// `input` pixels a side (0: left out), and the layer's channels around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    input: usize,
    /// The corner the input image takes, its margin included.
    reserved: (u16, u16),
    channels: Fit,
}

/// The channels' size limits for a layer of `width × height` maps.
fn channel_items(layer: &LayerMaps) -> Items {
    let long = layer.width.max(layer.height);
    Items {
        px: (layer.width, layer.height),
        count: layer.channels,
        caption: 0,
        min_side: MIN_SIDE,
        max_side: long.saturating_mul(4).min(MAX_SIDE).max(long),
    }
}

/// The layout of `body`: every channel (or the most) before anything else, then rows of
/// channels that stand apart, then the input image shown, then larger channels, then a
/// larger input image (full size, half size or none).
fn layout(body: (u16, u16), layer: Option<&LayerMaps>) -> Layout {
    let options = [IMAGE_SIDE, IMAGE_SIDE / 2, 0].map(|input| {
        // Beside the image one blank column and under it one blank row.
        let reserved = match input {
            0 => (0, 0),
            side => {
                let (w, h) = grid::scaled((IMAGE_SIDE, IMAGE_SIDE), side);
                let cells = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
                (
                    cells(w).saturating_add(2),
                    cells(h.div_ceil(2)).saturating_add(1),
                )
            }
        };
        let fits = reserved.0 <= body.0.saturating_add(2) && reserved.1 <= body.1.saturating_add(1);
        let items = layer.map_or(NOTHING, channel_items);
        let channels = grid::fit(body, reserved, &items);
        (
            fits,
            Layout {
                input,
                reserved,
                channels,
            },
        )
    });
    let count = layer.map_or(0, |l| l.channels);
    options
        .into_iter()
        .filter(|(fits, _)| *fits)
        .map(|(_, l)| l)
        .max_by_key(|l| {
            (
                l.channels.shown >= count,
                l.channels.shown,
                l.channels.apart(),
                l.input > 0,
                l.channels.px.0.max(l.channels.px.1),
                l.input,
            )
        })
        .unwrap_or(Layout {
            input: 0,
            reserved: (0, 0),
            channels: grid::fit((0, 0), (0, 0), &NOTHING),
        })
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

        // Row 0: sample and layer selector, with the three likeliest classes when there
        // is room, else without, else with short class names.
        let line = [(false, true), (false, false), (true, false)]
            .into_iter()
            .map(|(tight, top)| selector_line(features.requested, fm, layer_idx, theme, tight, top))
            .find(|l| l.width() <= usize::from(inner.width))
            .unwrap_or_else(|| {
                selector_line(features.requested, fm, layer_idx, theme, true, false)
            });
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
        let shown = self.maps(fm, layer, body, buf);
        if let Some(layer) = layer {
            self.caption(layer, shown, inner, body.bottom(), scale_row, buf);
        }
    }
}

impl FeatureMapsView<'_> {
    /// The input image in the top-left corner of `body`, and `layer`'s channels flowing
    /// around it; returns how many channels fit.
    fn maps(
        &self,
        fm: &FeatureMaps,
        layer: Option<&LayerMaps>,
        body: Rect,
        buf: &mut Buffer,
    ) -> usize {
        let theme = self.theme;
        let plan = layout((body.width, body.height), layer);
        if plan.input > 0 {
            image(&fm.pixels[..], plan.input).draw(buf, body.x, body.y, body, theme, Palette::Gray);
        }
        let Some(layer) = layer else { return 0 };
        let spots = grid::positions(body, plan.reserved, &plan.channels);
        for (c, &(x, y)) in spots.iter().enumerate() {
            activation(
                layer.channel(c),
                layer.width,
                layer.height,
                layer.min,
                layer.max,
                plan.channels.px,
            )
            .draw(buf, x, y, body, theme, Palette::Heat);
        }
        spots.len()
    }

    /// Below the maps, from line `caption_y`: the layer's name, size and range, its
    /// colour scale (on a row of its own when `scale_row`), and how many of its channels
    /// are shown when not all.
    fn caption(
        &self,
        layer: &LayerMaps,
        shown: usize,
        inner: Rect,
        caption_y: u16,
        scale_row: bool,
        buf: &mut Buffer,
    ) {
        let theme = self.theme;
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
            let (n, zoom) = (
                layer.channels,
                if self.can_zoom { " · z zooms" } else { "" },
            );
            let room = usize::from(inner.right().saturating_sub(after));
            let more = [
                format!("   showing {shown} of {n}{zoom}"),
                format!("  {shown} of {n}{zoom}"),
                format!(" {shown}/{n}"),
            ]
            .into_iter()
            .find(|m| m.chars().count() <= room);
            if let Some(more) = more {
                put(buf, inner, after, bar_y, &more, theme.dim());
            }
        }
    }
}

/// The three likeliest classes of `fm`'s image: `Shirt 62% · Coat 30% · Pull 5%`.
fn top3(fm: &FeatureMaps) -> Option<String> {
    let mut classes: Vec<(usize, f32)> = fm.probabilities.iter().copied().enumerate().collect();
    if classes.is_empty() {
        return None;
    }
    classes.sort_by(|a, b| b.1.total_cmp(&a.1));
    let parts: Vec<String> = classes
        .iter()
        .take(3)
        .map(|&(k, p)| format!("{} {:.0}%", short_name(k), (p * 100.0).clamp(0.0, 100.0)))
        .collect();
    Some(parts.join(" · "))
}

/// `#1234 Coat → Shirt (Shirt 62% · Coat 30% · Pull 5%)  input ▸conv1◂ conv2 conv3`.
fn selector_line<'a>(
    requested: Option<usize>,
    fm: &FeatureMaps,
    layer_idx: usize,
    theme: &Theme,
    tight: bool,
    top: bool,
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
    if let Some(top) = top3(fm).filter(|_| top) {
        spans.push(Span::styled(format!(" ({top})"), theme.dim()));
    }
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
    fn every_channel_and_the_input_image_show_when_they_can() {
        // The body of the pane at 160×48: every layer of the tutorial's model shows whole,
        // beside the input image at half size unless the image would make the rows of
        // maps touch where they need not.
        for (c, w, input, apart) in [(32, 13, 14, true), (64, 6, 14, false), (128, 2, 0, true)] {
            let l = layout((55, 15), Some(&layer(c, w)));
            assert_eq!(l.channels.shown, c, "{c}×{w}: {l:?}");
            assert_eq!(l.channels.apart(), apart, "{c}×{w}: {l:?}");
            assert_eq!(l.input, input, "{c}×{w}: {l:?}");
        }
        // Zoomed to the whole screen: the image at full size, the maps larger.
        let l = layout((156, 39), Some(&layer(32, 13)));
        assert_eq!((l.input, l.channels.shown), (28, 32), "{l:?}");
        assert!(l.channels.px.0 >= 13, "{l:?}");
        // Too little room for every channel: the most that fit, the image left out.
        let l = layout((20, 6), Some(&layer(64, 6)));
        assert!(l.channels.shown < 64 && l.channels.shown > 0, "{l:?}");
    }

    #[test]
    fn tiny_bodies_never_panic() {
        for body in [(0, 0), (1, 1), (2, 1), (30, 0)] {
            for l in [Some(layer(32, 13)), Some(layer(0, 0)), None] {
                let plan = layout(body, l.as_ref());
                assert!(plan.channels.shown <= l.as_ref().map_or(0, |l| l.channels));
            }
        }
    }
}
