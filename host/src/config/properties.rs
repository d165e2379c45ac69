//! Java `.properties` parsing (the format of `worker.properties` and connector files).
//!
//! Follows `java.util.Properties.load`: `key=value`, `key: value` or `key value`; `#` and `!` comments;
//! a trailing backslash continues a line; `\t \n \r \f \uXXXX` escapes; later keys override earlier ones.

use std::collections::BTreeMap;

/// A parse error with the 1-based line it was found on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {reason}")]
pub struct PropertiesError {
    /// Line of the logical entry's start.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses the text of a `.properties` file into key → value.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, PropertiesError> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let start_line = index + 1;
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let mut logical = String::from(trimmed);
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_entry(&logical);
        let key = unescape(key).map_err(|reason| PropertiesError { line: start_line, reason })?;
        let value = unescape(value).map_err(|reason| PropertiesError { line: start_line, reason })?;
        out.insert(key, value);
    }
    Ok(out)
}

/// An odd number of trailing backslashes means the line continues.
fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace; the separator and the blanks around it go.
fn split_entry(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let i = i.min(bytes.len());
    let key = &line[..i];
    let mut rest = line[i..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .ok_or_else(|| format!("malformed \\uXXXX escape '\\u{hex}'"))?;
                out.push(char::from_u32(code).ok_or_else(|| format!("\\u{hex} is not a character"))?);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_comments_and_overrides() {
        let p = parse("# c\n! c\na=1\nb: 2\nc 3\n  d  =  4  \na=5\n").unwrap();
        assert_eq!(p["a"], "5");
        assert_eq!(p["b"], "2");
        assert_eq!(p["c"], "3");
        assert_eq!(p["d"], "4  ");
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn continuation_and_escapes() {
        let p = parse("kcql=INSERT INTO t \\\n    SELECT * FROM x\nk\\=ey=v\\u0041\\tz\nempty=\n").unwrap();
        assert_eq!(p["kcql"], "INSERT INTO t SELECT * FROM x");
        assert_eq!(p["k=ey"], "vA\tz");
        assert_eq!(p["empty"], "");
    }

    #[test]
    fn bad_unicode_escape_names_the_line() {
        let err = parse("a=1\nb=\\u12\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("\\u"), "{err}");
    }

    #[test]
    fn even_backslashes_do_not_continue() {
        let p = parse("a=x\\\\\nb=y\n").unwrap();
        assert_eq!(p["a"], "x\\");
        assert_eq!(p["b"], "y");
    }
}
