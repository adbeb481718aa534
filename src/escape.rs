//! The one escaping function for everything the program prints that came from outside
//! it: file and directory names, a file's content, the environment. A control character
//! (ESC, BEL, the C1 controls, DEL), or a character that reorders text on the screen (the
//! bidirectional overrides), is shown as a visible escape (`\x1b`, `\u{202e}`), so a name
//! planted with `ESC[2J` or an OSC title sequence cannot clear the screen, retitle the
//! window or hide what follows it. Everything else, every other script included, is
//! printed as it is.

use std::borrow::Cow;
use std::path::Path;

/// Whether `c` must not reach a terminal as it is.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character escaped, new lines included (for one-line fields:
/// a name, a value).
pub fn line(text: &str) -> Cow<'_, str> {
    escaped(text, false)
}

/// `text` with every control character escaped except new lines (for messages that
/// span lines).
pub fn lines(text: &str) -> Cow<'_, str> {
    escaped(text, true)
}

/// A path as [`line`] prints it (a name that is not UTF-8 shows `�` where it is not).
pub fn path(p: &Path) -> String {
    line(&p.to_string_lossy()).into_owned()
}

fn escaped(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let bad = |c: char| unsafe_char(c) && !(keep_newlines && c == '\n');
    if !text.chars().any(bad) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !bad(c) => out.push(c),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_not_obeyed() {
        assert_eq!(line("run-1"), "run-1");
        assert_eq!(line("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(line("\x1b]0;owned\x07"), "\\x1b]0;owned\\x07");
        assert_eq!(line("x\u{9b}31m"), "x\\x9b31m");
        assert_eq!(line("evil\u{202e}txt.png"), "evil\\u{202e}txt.png");
        assert_eq!(line("two\nlines"), "two\\nlines");
        assert_eq!(lines("two\nlines\x1b"), "two\nlines\\x1b");
        assert_eq!(line("café 日本"), "café 日本");
        assert_eq!(path(Path::new("/r/\x1bx")), "/r/\\x1bx");
    }
}
