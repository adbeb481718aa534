//! Colour capability and palettes: what the terminal can show ([`ColorMode`]), the styles
//! every pane shares ([`Theme`]) and the heatmap colour scales used for pixels.
//!
//! Everything here is pure; the only environment access is [`ColorMode::from_env`], a thin
//! wrapper over [`ColorMode::resolve`] so the rule itself can be tested.

use ratatui::style::{Color, Modifier, Style};

pub use crate::config::ColorMode;
use crate::events::Phase;

impl ColorMode {
    /// Resolve `Auto` from the values of `COLORTERM` and `NO_COLOR` (passed in, so this stays
    /// pure). `NO_COLOR` set and non-empty wins; then `COLORTERM=truecolor|24bit` gives
    /// TrueColor; anything else Ansi16. Explicit modes are returned unchanged.
    pub fn resolve(self, colorterm: Option<&str>, no_color: Option<&str>) -> ColorMode {
        if self != ColorMode::Auto {
            return self;
        }
        if no_color.is_some_and(|v| !v.is_empty()) {
            return ColorMode::None;
        }
        match colorterm.map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "truecolor" || v == "24bit" => ColorMode::TrueColor,
            _ => ColorMode::Ansi16,
        }
    }

    /// [`ColorMode::resolve`] with the process environment.
    pub fn from_env(self) -> ColorMode {
        let colorterm = std::env::var("COLORTERM").ok();
        let no_color = std::env::var("NO_COLOR").ok();
        self.resolve(colorterm.as_deref(), no_color.as_deref())
    }
}

/// Which colour scale a pixel grid uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// Black to white: input images.
    Gray,
    /// Dark purple through red and orange to pale yellow (inferno-like): activations.
    Heat,
}

/// Inferno-like stops for [`Palette::Heat`].
const HEAT_STOPS: [(u8, u8, u8); 5] = [
    (0, 0, 4),
    (87, 16, 110),
    (188, 55, 84),
    (249, 142, 9),
    (252, 255, 164),
];

/// Named colours for [`Palette::Heat`] under [`ColorMode::Ansi16`], dark to bright.
const HEAT_16: [Color; 6] = [
    Color::Black,
    Color::Blue,
    Color::Magenta,
    Color::Red,
    Color::Yellow,
    Color::LightYellow,
];

/// Named colours for [`Palette::Gray`] under [`ColorMode::Ansi16`], dark to bright.
const GRAY_16: [Color; 4] = [Color::Black, Color::DarkGray, Color::Gray, Color::White];

/// Shading characters for [`ColorMode::None`], empty to full.
pub const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];

/// Clamp to `0..=1`, mapping NaN to 0.
fn unit(t: f32) -> f32 {
    if t.is_nan() {
        0.0
    } else {
        t.clamp(0.0, 1.0)
    }
}

/// Index into a table of `n` levels for `t` in `0..=1`.
fn level(t: f32, n: usize) -> usize {
    let i = (unit(t) * n as f32) as usize;
    i.min(n.saturating_sub(1))
}

/// The RGB colour of `t` (`0..=1`) on a palette.
pub fn rgb(palette: Palette, t: f32) -> (u8, u8, u8) {
    let t = unit(t);
    match palette {
        Palette::Gray => {
            let v = (t * 255.0).round() as u8;
            (v, v, v)
        }
        Palette::Heat => {
            let segments = (HEAT_STOPS.len() - 1) as f32;
            let pos = t * segments;
            let i = (pos.floor() as usize).min(HEAT_STOPS.len() - 2);
            let f = pos - i as f32;
            let (a, b) = (HEAT_STOPS[i], HEAT_STOPS[i + 1]);
            let mix = |x: u8, y: u8| (x as f32 + (y as f32 - x as f32) * f).round() as u8;
            (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
        }
    }
}

/// The nearest of the xterm colour cube's six levels (0, 95, 135, 175, 215, 255).
fn cube_level(v: u8) -> u8 {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let mut best = 0u8;
    for (i, &l) in LEVELS.iter().enumerate() {
        if v.abs_diff(l) < v.abs_diff(LEVELS[usize::from(best)]) {
            best = i as u8;
        }
    }
    best
}

/// The colour of `t` (`0..=1`, clamped; NaN counts as 0) on a palette, as the mode can show
/// it. Under [`ColorMode::None`] this is [`Color::Reset`]: use [`shade_char`] instead.
pub fn heat_color(mode: ColorMode, palette: Palette, t: f32) -> Color {
    match mode {
        ColorMode::TrueColor => {
            let (r, g, b) = rgb(palette, t);
            Color::Rgb(r, g, b)
        }
        ColorMode::Ansi256 => match palette {
            // The 24-step grey ramp, with the cube's black and white at the ends.
            Palette::Gray => match (unit(t) * 25.0).round() as u8 {
                0 => Color::Indexed(16),
                25.. => Color::Indexed(231),
                n => Color::Indexed(231 + n),
            },
            Palette::Heat => {
                let (r, g, b) = rgb(palette, t);
                Color::Indexed(16 + 36 * cube_level(r) + 6 * cube_level(g) + cube_level(b))
            }
        },
        ColorMode::Ansi16 | ColorMode::Auto => match palette {
            Palette::Gray => GRAY_16[level(t, GRAY_16.len())],
            Palette::Heat => HEAT_16[level(t, HEAT_16.len())],
        },
        ColorMode::None => Color::Reset,
    }
}

/// The shading character for `t` (`0..=1`) under [`ColorMode::None`].
pub fn shade_char(t: f32) -> char {
    SHADES[level(t, SHADES.len())]
}

/// The styles the panes share, for one resolved [`ColorMode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Never `Auto`: an unresolved `Auto` is treated as `Ansi16`.
    pub mode: ColorMode,
}

impl Theme {
    pub fn new(mode: ColorMode) -> Self {
        let mode = match mode {
            ColorMode::Auto => ColorMode::Ansi16,
            m => m,
        };
        Theme { mode }
    }

    /// True when colours can be shown at all.
    pub fn has_color(&self) -> bool {
        self.mode != ColorMode::None
    }

    /// A foreground colour, or nothing under [`ColorMode::None`].
    pub fn fg(&self, color: Color) -> Style {
        if self.has_color() {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// Secondary text.
    pub fn dim(&self) -> Style {
        if self.has_color() {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    /// Errors and wrong predictions; reverse video without colour.
    pub fn bad(&self) -> Style {
        if self.has_color() {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }

    /// Pane border: highlighted when focused.
    pub fn border(&self, focused: bool) -> Style {
        match (focused, self.has_color()) {
            (true, true) => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            (false, true) => Style::new().fg(Color::DarkGray),
            (false, false) => Style::new(),
        }
    }

    /// Pane title.
    pub fn title(&self, focused: bool) -> Style {
        let s = Style::new().add_modifier(Modifier::BOLD);
        if focused && self.has_color() {
            s.fg(Color::Cyan)
        } else {
            s
        }
    }

    /// The colour that stands for a phase.
    pub fn phase_color(phase: Phase) -> Color {
        match phase {
            Phase::Loading => Color::Blue,
            Phase::Training => Color::Green,
            Phase::Paused => Color::Yellow,
            Phase::Evaluating => Color::Magenta,
            Phase::Done => Color::Cyan,
            Phase::Failed => Color::Red,
        }
    }

    /// The header's state chip: black on the phase colour, or reverse video.
    pub fn phase_chip(&self, phase: Phase) -> Style {
        let s = Style::new().add_modifier(Modifier::BOLD);
        if self.has_color() {
            s.fg(Color::Black).bg(Self::phase_color(phase))
        } else {
            s.add_modifier(Modifier::REVERSED)
        }
    }

    /// A pixel cell showing `upper` over `lower` (both `0..=1`) with `▀`; under
    /// [`ColorMode::None`] one shading character for their mean.
    pub fn pixel_cell(&self, palette: Palette, upper: f32, lower: f32) -> (char, Style) {
        if self.has_color() {
            let fg = heat_color(self.mode, palette, upper);
            let bg = heat_color(self.mode, palette, lower);
            ('▀', Style::new().fg(fg).bg(bg))
        } else {
            (shade_char((unit(upper) + unit(lower)) / 2.0), Style::new())
        }
    }

    /// A confusion-matrix cell for a row-normalised value `v` (`0..=1`).
    pub fn matrix_cell(&self, v: f32, diagonal: bool) -> Style {
        let v = unit(v);
        match self.mode {
            ColorMode::None => {
                if v >= 0.5 {
                    Style::new().add_modifier(Modifier::REVERSED)
                } else if v >= 0.05 {
                    Style::new().add_modifier(Modifier::BOLD)
                } else if v == 0.0 {
                    Style::new().add_modifier(Modifier::DIM)
                } else {
                    Style::new()
                }
            }
            ColorMode::Ansi16 | ColorMode::Auto => {
                if v == 0.0 {
                    Style::new().fg(Color::DarkGray)
                } else if diagonal && v >= 0.5 {
                    Style::new().fg(Color::Black).bg(Color::Green)
                } else if diagonal {
                    Style::new().fg(Color::Black).bg(Color::Yellow)
                } else if v >= 0.1 {
                    Style::new().fg(Color::White).bg(Color::Red)
                } else if v >= 0.02 {
                    Style::new().fg(Color::White).bg(Color::Magenta)
                } else {
                    Style::new()
                }
            }
            ColorMode::TrueColor | ColorMode::Ansi256 => {
                if v == 0.0 {
                    return Style::new().fg(Color::DarkGray);
                }
                // sqrt so that a 5 % confusion is already clearly visible.
                let t = v.sqrt();
                let bg = heat_color(self.mode, Palette::Heat, t);
                let fg = if t > 0.6 { Color::Black } else { Color::White };
                Style::new().fg(fg).bg(bg)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_resolution_from_env_values() {
        let auto = ColorMode::Auto;
        assert_eq!(auto.resolve(None, None), ColorMode::Ansi16);
        assert_eq!(auto.resolve(Some("truecolor"), None), ColorMode::TrueColor);
        assert_eq!(auto.resolve(Some("24bit"), None), ColorMode::TrueColor);
        assert_eq!(auto.resolve(Some("TrueColor"), None), ColorMode::TrueColor);
        assert_eq!(auto.resolve(Some("yes"), None), ColorMode::Ansi16);
        assert_eq!(auto.resolve(Some("truecolor"), Some("1")), ColorMode::None);
        assert_eq!(auto.resolve(None, Some("1")), ColorMode::None);
        // NO_COLOR set but empty does not count.
        assert_eq!(
            auto.resolve(Some("truecolor"), Some("")),
            ColorMode::TrueColor
        );
        // Explicit modes are kept whatever the environment says.
        assert_eq!(
            ColorMode::Ansi256.resolve(Some("truecolor"), Some("1")),
            ColorMode::Ansi256
        );
    }

    #[test]
    fn heat_colour_at_min_and_max() {
        use ColorMode::*;
        assert_eq!(
            heat_color(TrueColor, Palette::Heat, 0.0),
            Color::Rgb(0, 0, 4)
        );
        assert_eq!(
            heat_color(TrueColor, Palette::Heat, 1.0),
            Color::Rgb(252, 255, 164)
        );
        assert_eq!(
            heat_color(TrueColor, Palette::Gray, 0.0),
            Color::Rgb(0, 0, 0)
        );
        assert_eq!(
            heat_color(TrueColor, Palette::Gray, 1.0),
            Color::Rgb(255, 255, 255)
        );
        assert_eq!(heat_color(Ansi256, Palette::Gray, 0.0), Color::Indexed(16));
        assert_eq!(heat_color(Ansi256, Palette::Gray, 1.0), Color::Indexed(231));
        assert_eq!(heat_color(Ansi256, Palette::Heat, 0.0), Color::Indexed(16));
        // (252, 255, 164) → cube (5, 5, 3).
        assert_eq!(
            heat_color(Ansi256, Palette::Heat, 1.0),
            Color::Indexed(16 + 180 + 30 + 3)
        );
        assert_eq!(cube_level(47), 0);
        assert_eq!(cube_level(48), 1);
        assert_eq!(cube_level(255), 5);
        assert_eq!(heat_color(Ansi16, Palette::Heat, 0.0), Color::Black);
        assert_eq!(heat_color(Ansi16, Palette::Heat, 1.0), Color::LightYellow);
        assert_eq!(heat_color(Ansi16, Palette::Gray, 1.0), Color::White);
        // Out of range and NaN are clamped, never panic.
        assert_eq!(heat_color(Ansi16, Palette::Heat, 7.0), Color::LightYellow);
        assert_eq!(heat_color(Ansi16, Palette::Heat, f32::NAN), Color::Black);
        assert_eq!(shade_char(0.0), ' ');
        assert_eq!(shade_char(1.0), '█');
        assert_eq!(shade_char(0.5), '▒');
    }

    #[test]
    fn heat_ramp_gets_brighter() {
        let lum = |t| {
            let (r, g, b) = rgb(Palette::Heat, t);
            r as u32 * 3 + g as u32 * 6 + b as u32
        };
        let steps: Vec<u32> = (0..=10).map(|i| lum(i as f32 / 10.0)).collect();
        assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{steps:?}");
    }

    #[test]
    fn ansi256_gray_ramp_stays_in_the_grey_range() {
        for i in 0..=100 {
            let Color::Indexed(n) = heat_color(ColorMode::Ansi256, Palette::Gray, i as f32 / 100.0)
            else {
                panic!("not indexed");
            };
            assert!(n == 16 || n == 231 || (232..=255).contains(&n), "{n}");
        }
    }
}
