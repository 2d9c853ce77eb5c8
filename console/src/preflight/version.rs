//! Versions and numbers compared numerically by dotted parts, as preflight compares facts.

use std::cmp::Ordering;

/// Compares two versions numerically by dotted parts, or `None` when either is not a
/// version. A version is an optional `v`, then digits and dots, starting with a digit; what
/// follows the first other character is ignored (`20.10.24+dfsg1` is 20.10.24,
/// `6.1.0-18-amd64` is 6.1.0). Missing parts count as 0, so `20.10` equals `20.10.0`. A plain
/// number (`4`, `17179869184`) is a one-part version.
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parts(a)?, parts(b)?);
    let len = a.len().max(b.len());
    let part = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    Some(
        (0..len)
            .map(|i| part(&a, i).cmp(&part(&b, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
    )
}

/// The numeric parts of a version, or `None` if `text` is not one (or a part overflows).
fn parts(text: &str) -> Option<Vec<u64>> {
    let text = text.trim();
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    // A dot that ends the numeric head (`1.` in `1.-rc`) separates nothing.
    text[..end]
        .trim_end_matches('.')
        .split('.')
        .map(|part| part.parse().ok())
        .collect()
}
