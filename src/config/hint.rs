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
/// nearest allowed name: from the message's "expected one of" list when it has one,
/// else from every key the schema knows.
pub(crate) fn unknown_key_hint(msg: &str) -> String {
    let Some(rest) = msg
        .strip_prefix("unknown field `")
        .or_else(|| msg.strip_prefix("unknown variant `"))
    else {
        return String::new();
    };
    let Some((given, tail)) = rest.split_once('`') else {
        return String::new();
    };
    let listed: Vec<String> = tail
        .split_once("expected one of ")
        .map(|(_, list)| {
            list.split(", ")
                .map(|c| c.trim_matches('`').to_string())
                .collect()
        })
        .unwrap_or_default();
    let candidates = if listed.is_empty() {
        known_names()
    } else {
        listed
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

#[cfg(test)]
mod tests {
    use super::*;

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
