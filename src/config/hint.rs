//! "Did you mean" for misspelt keys and values: the nearest allowed name by edit distance.

use crate::config::params::PARAMS;

/// Every section and key name the schema knows, from the settings table.
fn known_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = PARAMS
        .iter()
        .flat_map(|p| {
            let (section, key) = p.key.split_once('.').unwrap_or((p.key, p.key));
            [section, key]
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
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
    let listed: Vec<&str> = tail
        .split_once("expected one of ")
        .map(|(_, list)| list.split(", ").map(|c| c.trim_matches('`')).collect())
        .unwrap_or_default();
    let candidates = if listed.is_empty() {
        known_names()
    } else {
        listed
    };
    candidates
        .iter()
        .map(|k| (edit_distance(given, k), *k))
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
