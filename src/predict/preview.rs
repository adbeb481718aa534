//! The 28×28 input as text for a terminal: 14 lines of 28 upper-half blocks (`▀`), the
//! foreground the upper pixel and the background the lower one, in the colours the
//! terminal can show; shading characters (` ░▒▓█`) under `NO_COLOR`.

use std::fmt::Write as _;

use crate::config::ColorMode;
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};

const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];

/// The preview, one line per two pixel rows, each line ending in `\n` (and a colour
/// reset when there is colour). `mode` must be resolved (`Auto` reads as 16 colours).
pub fn preview(pixels: &[u8; IMAGE_PIXELS], mode: ColorMode) -> String {
    let mut out = String::new();
    for pair in pixels.chunks(IMAGE_SIDE * 2) {
        let (upper, lower) = pair.split_at(IMAGE_SIDE);
        for (&u, &l) in upper.iter().zip(lower) {
            match mode {
                ColorMode::None => {
                    let avg = (usize::from(u) + usize::from(l)) / 2;
                    out.push(SHADES[avg * SHADES.len() / 256]);
                }
                ColorMode::TrueColor => {
                    let _ = write!(out, "\x1b[38;2;{u};{u};{u};48;2;{l};{l};{l}m▀");
                }
                ColorMode::Ansi256 => {
                    let _ = write!(out, "\x1b[38;5;{};48;5;{}m▀", gray256(u), gray256(l));
                }
                ColorMode::Ansi16 | ColorMode::Auto => {
                    let (fg, bg) = (gray16(u), gray16(l));
                    let _ = write!(out, "\x1b[{fg};{}m▀", bg + 10);
                }
            }
        }
        if mode != ColorMode::None {
            out.push_str("\x1b[0m");
        }
        out.push('\n');
    }
    out
}

/// The xterm gray ramp (232–255), black as 16.
fn gray256(v: u8) -> u8 {
    if v < 8 {
        16
    } else {
        232 + ((u16::from(v) - 8) * 24 / 248).min(23) as u8
    }
}

/// Four grays of the 16 named colours, as foreground SGR codes: black, bright black,
/// white, bright white.
fn gray16(v: u8) -> u8 {
    [30, 90, 37, 97][usize::from(v) * 4 / 256]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A diagonal ramp with a bright square: every shade appears.
    fn sample() -> Box<[u8; IMAGE_PIXELS]> {
        let mut px = Box::new([0u8; IMAGE_PIXELS]);
        for y in 0..IMAGE_SIDE {
            for x in 0..IMAGE_SIDE {
                let ramp = ((x + y) * 255 / 54) as u8;
                let square = (8..20).contains(&x) && (8..20).contains(&y);
                px[y * IMAGE_SIDE + x] = if square { 255 } else { ramp / 2 };
            }
        }
        px
    }

    #[test]
    fn shades_without_colour() {
        insta::assert_snapshot!(preview(&sample(), ColorMode::None));
    }

    #[test]
    fn sixteen_colours_escaped() {
        // Escapes made visible, so the snapshot is readable.
        let text = preview(&sample(), ColorMode::Ansi16).replace('\x1b', "^");
        insta::assert_snapshot!(text.lines().take(5).collect::<Vec<_>>().join("\n"));
    }

    #[test]
    fn every_mode_gives_fourteen_lines_of_28_cells() {
        for mode in [
            ColorMode::None,
            ColorMode::Ansi16,
            ColorMode::Ansi256,
            ColorMode::TrueColor,
        ] {
            let text = preview(&sample(), mode);
            assert_eq!(text.lines().count(), 14);
            for line in text.lines() {
                let cells = line.chars().filter(|c| *c == '▀' || SHADES.contains(c));
                assert_eq!(cells.count(), 28, "{mode:?}");
            }
        }
    }
}
