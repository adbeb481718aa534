//! "Did you mean" for misspelt keys and values: the nearest allowed name by edit distance.

use crate::config::Config;

/// Every section and key name of the schema, read off the serialised defaults.
fn known_names() -> Vec<String> {
    let table = toml::Table::try_from(Config::default()).unwrap_or_default();
    let mut names: Vec<String> = table
        .iter()
        .flat_map(|(section, keys)| {
            let keys = keys.as_table().into_iter().flat_map(|t| t.keys().cloned());
            std::iter::once(section.clone()).chain(keys)
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// serde's message with the Rust type names it ends in said in a user's words:
/// "expected usize" becomes "expected a whole number (0 or more)", "expected struct
/// Training" "expected a table", and "integer `…` as i128" loses its "as i128".
pub(crate) fn plain_words(msg: &str) -> String {
    let mut out = msg.replace(" as i128", "").replace(" as u128", "");
    for (rust, words) in [
        ("usize", "a whole number (0 or more)"),
        ("u64", "a whole number (0 or more)"),
        ("u32", "a whole number (0 or more)"),
        ("u16", "a whole number (0 or more)"),
        ("u8", "a whole number (0 or more)"),
        ("i64", "a whole number"),
        ("i32", "a whole number"),
        ("f64", "a number"),
        ("f32", "a number"),
    ] {
        if let Some(head) = out.strip_suffix(&format!("expected {rust}")) {
            out = format!("{head}expected {words}");
        }
    }
    if let Some((head, _)) = out.split_once("expected struct ") {
        out = format!("{head}expected a table");
    }
    out
}

/// For serde's "unknown field `x`" and "unknown variant `x`" messages, suggest the
/// nearest allowed name: from the message's list of what is expected when it has one
/// ("expected one of `a`, `b`" or "expected `a` or `b`"), else, for a key, from every key
/// the schema knows (a value is never offered a key's name).
pub(crate) fn unknown_key_hint(msg: &str) -> String {
    let (rest, variant) = match (
        msg.strip_prefix("unknown field `"),
        msg.strip_prefix("unknown variant `"),
    ) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => return String::new(),
    };
    let Some((given, tail)) = rest.split_once('`') else {
        return String::new();
    };
    let listed: Vec<String> = tail
        .split_once("expected ")
        .map(|(_, list)| {
            let list = list.strip_prefix("one of ").unwrap_or(list);
            list.split(", ")
                .flat_map(|c| c.split(" or "))
                .map(|c| c.trim().trim_matches('`').to_string())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let candidates = match (listed.is_empty(), variant) {
        (false, _) => listed,
        (true, false) => known_names(),
        (true, true) => return String::new(),
    };
    candidates
        .iter()
        .map(|k| (edit_distance(given, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `msg` with every word longer than [`LONG_WORD`] characters cut (a huge key or value
/// quoted by a parser must not flood the terminal), saying how long it was.
pub(crate) fn shortened(msg: &str) -> String {
    msg.split(' ')
        .map(|w| match w.char_indices().nth(LONG_WORD) {
            None => w.to_string(),
            Some((cut, _)) => format!("{}… ({} bytes in all)", &w[..cut], w.len()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The longest word a message quotes whole.
const LONG_WORD: usize = 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_offered_values_and_long_words_are_cut() {
        let msg = "unknown variant `f16`, expected `f32` or `bf16`";
        assert_eq!(unknown_key_hint(msg), " (did you mean `bf16`?)");
        assert_eq!(
            unknown_key_hint("unknown variant `zzzzzz`, expected `f32` or `bf16`"),
            ""
        );
        let long = "k".repeat(900_000);
        let cut = shortened(&format!("unknown field `{long}`, expected one of `a`"));
        assert!(cut.len() < 200, "{}", cut.len());
        assert!(cut.contains("… (900003 bytes in all)"), "{cut}");
    }

    #[test]
    fn rust_type_names_become_words() {
        assert_eq!(
            plain_words("invalid type: string \"ten\", expected usize"),
            "invalid type: string \"ten\", expected a whole number (0 or more)"
        );
        assert_eq!(
            plain_words("invalid type: integer `99999999999999999999` as i128, expected usize"),
            "invalid type: integer `99999999999999999999`, expected a whole number (0 or more)"
        );
        assert_eq!(
            plain_words("invalid type: integer `3`, expected struct Training"),
            "invalid type: integer `3`, expected a table"
        );
        assert_eq!(
            plain_words("invalid type: string \"x\", expected f64"),
            "invalid type: string \"x\", expected a number"
        );
        assert_eq!(
            plain_words("unknown field `epoch`"),
            "unknown field `epoch`"
        );
    }
}
