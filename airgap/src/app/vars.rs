//! Variables in `compose.yaml`: `${name}` names a config item of `outpost.yaml`, `$$` is a literal
//! `$`, and nothing else may follow a `$` (no `$name`, no `${name:-default}`).

use std::collections::BTreeMap;

/// One `${name}` in a text: the name and the byte range of the whole `${name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// A malformed variable, or one without a value. Positions are byte offsets of the `$`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    #[error("'$' at byte {position} must start ${{name}} (or be written $$ for a literal '$')")]
    LoneDollar { position: usize },
    #[error("unterminated \"${{\" at byte {position}")]
    Unterminated { position: usize },
    #[error("\"${{{inner}}}\" at byte {position}: only ${{name}} is supported, with name [a-z][a-z0-9_]* (no defaults or other forms)")]
    Unsupported { position: usize, inner: String },
    #[error("variable \"{name}\" has no value")]
    Undefined { name: String },
}

/// Every `${name}` in `text`, in order; the first malformed `$` is an error.
pub fn references(text: &str) -> Result<Vec<VarRef>, VarError> {
    let mut found = Vec::new();
    scan(text, |piece| {
        if let Piece::Var(var) = piece {
            found.push(var);
        }
    })?;
    Ok(found)
}

/// Replaces every `${name}` with its value and every `$$` with `$`.
pub fn substitute(text: &str, values: &BTreeMap<String, String>) -> Result<String, VarError> {
    let mut out = String::with_capacity(text.len());
    let mut missing = None;
    scan(text, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Var(var) => match values.get(&var.name) {
            Some(value) => out.push_str(value),
            None => {
                missing.get_or_insert(var.name);
            }
        },
    })?;
    match missing {
        Some(name) => Err(VarError::Undefined { name }),
        None => Ok(out),
    }
}

/// Whether `name` is a valid variable (and config item) name: `[a-z][a-z0-9_]*`.
pub fn is_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

enum Piece<'t> {
    Text(&'t str),
    Var(VarRef),
}

fn scan<'t>(text: &'t str, mut emit: impl FnMut(Piece<'t>)) -> Result<(), VarError> {
    let mut rest_start = 0;
    while let Some(offset) = text[rest_start..].find('$') {
        let position = rest_start + offset;
        emit(Piece::Text(&text[rest_start..position]));
        let after = &text[position + 1..];
        if after.starts_with('$') {
            emit(Piece::Text("$"));
            rest_start = position + 2;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(close) = body.find('}') else {
                return Err(VarError::Unterminated { position });
            };
            let inner = &body[..close];
            if !is_name(inner) {
                return Err(VarError::Unsupported {
                    position,
                    inner: inner.to_string(),
                });
            }
            // `$` + `{` + inner + `}`
            let end = position + 2 + close + 1;
            emit(Piece::Var(VarRef {
                name: inner.to_string(),
                start: position,
                end,
            }));
            rest_start = end;
        } else {
            return Err(VarError::LoneDollar { position });
        }
    }
    emit(Piece::Text(&text[rest_start..]));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        let actual = match references(input) {
            Ok(refs) => refs
                .iter()
                .map(|r| format!("{}@{}..{}", r.name, r.start, r.end))
                .collect::<Vec<_>>()
                .join(" "),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(actual, expected, "input {input:?}");
    }

    #[test]
    fn finds_references() {
        check("", "");
        check("plain", "");
        check("${a}", "a@0..4");
        check(
            "x ${greeting} y ${db_password2}",
            "greeting@2..13 db_password2@16..31",
        );
        check("$${a}", "");
        check("$$$${a}", "");
        check("$$${a}", "a@2..6");
        check("price: 5$$", "");
        check("é${a}", "a@2..6");
    }

    #[test]
    fn refuses_other_forms() {
        check(
            "$a",
            "error: '$' at byte 0 must start ${name} (or be written $$ for a literal '$')",
        );
        check(
            "x$",
            "error: '$' at byte 1 must start ${name} (or be written $$ for a literal '$')",
        );
        check("${a", "error: unterminated \"${\" at byte 0");
        check("${a:-b}", "error: \"${a:-b}\" at byte 0: only ${name} is supported, with name [a-z][a-z0-9_]* (no defaults or other forms)");
        check("${}", "error: \"${}\" at byte 0: only ${name} is supported, with name [a-z][a-z0-9_]* (no defaults or other forms)");
        check("${Name}", "error: \"${Name}\" at byte 0: only ${name} is supported, with name [a-z][a-z0-9_]* (no defaults or other forms)");
        check("${1a}", "error: \"${1a}\" at byte 0: only ${name} is supported, with name [a-z][a-z0-9_]* (no defaults or other forms)");
    }

    #[test]
    fn substitutes() {
        let values: BTreeMap<String, String> = [("a", "1"), ("b", "${a}")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(substitute("x${a}y$$z", &values).as_deref(), Ok("x1y$z"));
        // Values are inserted as they are, never expanded again.
        assert_eq!(substitute("${b}", &values).as_deref(), Ok("${a}"));
        assert_eq!(
            substitute("${a}${c}", &values),
            Err(VarError::Undefined { name: "c".into() })
        );
        assert!(substitute("$x", &values).is_err());
    }
}
