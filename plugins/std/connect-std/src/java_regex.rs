//! Java's regular expressions (`java.util.regex.Pattern`) as far as a finite automaton goes, for
//! the transforms and predicates that take one (`RegexRouter`, `TopicNameMatches`): the `regex`
//! crate's syntax, in ASCII mode as Java's defaults are (`\w`, `\d`, `\s`, `\b` and `(?i)` are
//! ASCII-only in Java unless `UNICODE_CHARACTER_CLASS` is set), plus Java's `\Q…\E` quoting and its
//! POSIX classes (`\p{Alpha}`, `\P{Digit}`, …). Look-around, back-references, possessive
//! quantifiers and atomic groups have no automaton: such a pattern is refused when the plugin is
//! configured.
//!
//! `Matcher.matches()` (the whole input) is [`JavaRegex::matches`]; `Matcher.replaceFirst()` with
//! Java's replacement syntax (`$1`, `${name}`, `\$`) is [`Replacement`].

use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::{Hir, Look};

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct JavaRegex {
    /// Unanchored, for `find()`.
    find: Regex,
    /// Anchored at both ends, for `matches()`.
    full: Regex,
}

/// Java's POSIX character classes (US-ASCII only), by their `\p{…}` names.
const POSIX: &[(&str, &str)] = &[
    ("Lower", "[[:lower:]]"),
    ("Upper", "[[:upper:]]"),
    ("ASCII", "[[:ascii:]]"),
    ("Alpha", "[[:alpha:]]"),
    ("Digit", "[[:digit:]]"),
    ("Alnum", "[[:alnum:]]"),
    ("Punct", "[[:punct:]]"),
    ("Graph", "[[:graph:]]"),
    ("Print", "[[:print:]]"),
    ("Blank", "[[:blank:]]"),
    ("Cntrl", "[[:cntrl:]]"),
    ("XDigit", "[[:xdigit:]]"),
    ("Space", "[[:space:]]"),
];

/// Rewrites Java-only syntax (`\Q…\E`, `\p{Alpha}`) into the `regex` crate's.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at..];
        if let Some(quoted) = escape.strip_prefix("\\Q") {
            // Everything up to `\E` (or the end) is literal.
            let (literal, after) = match quoted.find("\\E") {
                Some(end) => (&quoted[..end], &quoted[end + 2..]),
                None => (quoted, ""),
            };
            out.push_str(&regex_syntax::escape(literal));
            rest = after;
            continue;
        }
        let posix = POSIX.iter().find_map(|(name, class)| {
            let negated = if escape[1..].starts_with(&format!("p{{{name}}}")) {
                false
            } else if escape[1..].starts_with(&format!("P{{{name}}}")) {
                true
            } else {
                return None;
            };
            Some((negated, *class, name.len() + 4))
        });
        if let Some((negated, class, len)) = posix {
            out.push_str(&if negated { class.replacen("[[", "[^[", 1) } else { class.to_string() });
            rest = &escape[len..];
            continue;
        }
        // Any other escape is copied whole (so `\\p{Alpha}` stays a backslash and text).
        let len = escape[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
        out.push_str(&escape[..len]);
        rest = &escape[len..];
    }
    out.push_str(rest);
    out
}

/// The gist of a `regex` error (its last line, without the caret drawing).
fn reason(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

fn build(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern).unicode(false).build().map_err(|e| reason(&e))
}

impl JavaRegex {
    /// Compiles a Java pattern; the error says why it is not one (or not one this can run).
    pub fn compile(pattern: &str) -> Result<Self, String> {
        let pattern = translate(pattern);
        let find = build(&pattern)?;
        // `\A(?:…)\z` around the text would break on a trailing `(?x)` comment: anchor the
        // parsed expression instead, and print it back.
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(&pattern)
            .map_err(|e| reason(&e))?;
        let full = build(&Hir::concat(vec![Hir::look(Look::Start), hir, Hir::look(Look::End)]).to_string())?;
        Ok(Self { find, full })
    }

    /// Whether the whole of `text` matches (`Matcher.matches()`).
    pub fn matches(&self, text: &str) -> bool {
        self.full.is_match(text.as_bytes())
    }

    /// The number of capturing groups (`Matcher.groupCount()`).
    pub fn group_count(&self) -> usize {
        self.find.captures_len() - 1
    }

    /// The group called `name`.
    fn group_named(&self, name: &str) -> Option<usize> {
        self.find.capture_names().position(|n| n == Some(name))
    }

    /// `text` with its first match replaced (`Matcher.replaceFirst()`); `text` itself when
    /// nothing matches.
    pub fn replace_first(&self, text: &str, replacement: &Replacement) -> String {
        let bytes = text.as_bytes();
        let Some(captures) = self.find.captures(bytes) else { return text.to_string() };
        let Some(whole) = captures.get(0) else { return text.to_string() };
        let mut out = Vec::with_capacity(text.len() + 16);
        out.extend_from_slice(&bytes[..whole.start()]);
        for piece in &replacement.0 {
            match piece {
                Piece::Text(t) => out.extend_from_slice(t.as_bytes()),
                // A group that took no part in the match adds nothing (as in Java).
                Piece::Group(n) => out.extend_from_slice(captures.get(*n).map_or(&[][..], |m| m.as_bytes())),
            }
        }
        out.extend_from_slice(&bytes[whole.end()..]);
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Group(usize),
}

/// A replacement string in Java's syntax (`Matcher.appendReplacement`): `$n` is group n (as many
/// digits as make an existing group), `${name}` a named group, `\x` the character x.
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement(Vec<Piece>);

impl Replacement {
    /// Parses `replacement` for `regex`'s groups; the error is Java's, for a reference to a
    /// group that does not exist or a malformed one (Java finds them on the first match, this
    /// when the plugin is configured).
    pub fn parse(replacement: &str, regex: &JavaRegex) -> Result<Self, String> {
        let chars: Vec<char> = replacement.chars().collect();
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut at = 0;
        while at < chars.len() {
            match chars[at] {
                '\\' => {
                    let c = *chars.get(at + 1).ok_or("character to be escaped is missing")?;
                    text.push(c);
                    at += 2;
                }
                '$' => {
                    at += 1;
                    let c = *chars.get(at).ok_or("Illegal group reference: group index is missing")?;
                    let group = if c == '{' {
                        at += 1;
                        let name: String = chars[at..].iter().take_while(|c| c.is_ascii_alphanumeric()).collect();
                        at += name.len();
                        if name.is_empty() {
                            return Err("named capturing group has 0 length name".into());
                        }
                        if chars.get(at) != Some(&'}') {
                            return Err("named capturing group is missing trailing '}'".into());
                        }
                        at += 1;
                        if name.starts_with(|c: char| c.is_ascii_digit()) {
                            return Err(format!("capturing group name {{{name}}} starts with digit character"));
                        }
                        regex.group_named(&name).ok_or_else(|| format!("No group with name {{{name}}}"))?
                    } else {
                        let mut n = c.to_digit(10).ok_or("Illegal group reference")? as usize;
                        at += 1;
                        // Further digits belong to the reference while it names an existing group.
                        while let Some(d) = chars.get(at).and_then(|c| c.to_digit(10)) {
                            let longer = n * 10 + d as usize;
                            if longer > regex.group_count() {
                                break;
                            }
                            n = longer;
                            at += 1;
                        }
                        if n > regex.group_count() {
                            return Err(format!("No group {n}"));
                        }
                        n
                    };
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Group(group));
                }
                c => {
                    text.push(c);
                    at += 1;
                }
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self(pieces))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(pattern: &str, replacement: &str, text: &str) -> Result<String, String> {
        let re = JavaRegex::compile(pattern)?;
        let r = Replacement::parse(replacement, &re)?;
        Ok(if re.matches(text) { re.replace_first(text, &r) } else { text.to_string() })
    }

    #[test]
    fn whole_input_must_match_and_the_first_match_is_replaced() {
        assert_eq!(replace("(.*)-raw", "$1", "orders-raw").unwrap(), "orders");
        assert_eq!(replace("(.*)-raw", "$1", "orders-raw-x").unwrap(), "orders-raw-x");
        assert_eq!(replace("raw", "x", "orders-raw").unwrap(), "orders-raw", "matches() needs the whole topic");
        // replaceFirst finds the first match, which may be shorter than the whole input.
        assert_eq!(replace("(a*?)", "<$1>", "aaa").unwrap(), "<>aaa");
        assert_eq!(replace("a|ab", "x", "ab").unwrap(), "xb");
    }

    #[test]
    fn java_replacement_syntax() {
        assert_eq!(replace("(?<env>[a-z]+)\\.(.*)", "${env}_$2\\$", "prod.orders").unwrap(), "prod_orders$");
        assert_eq!(replace("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)", "$11$12", "abcdefghijk").unwrap(), "ka2");
        assert_eq!(replace("(a)", "$12", "a").unwrap(), "a2");
        assert_eq!(replace("(a)|(b)", "[$2]", "a").unwrap(), "[]");
        assert_eq!(replace("(a)", "$2", "a").unwrap_err(), "No group 2");
        assert_eq!(replace("(a)", "${x}", "a").unwrap_err(), "No group with name {x}");
        assert_eq!(replace("(a)", "$x", "a").unwrap_err(), "Illegal group reference");
        assert_eq!(replace("(a)", "x\\", "a").unwrap_err(), "character to be escaped is missing");
    }

    #[test]
    fn java_only_syntax_and_ascii_classes() {
        assert!(JavaRegex::compile("\\p{Alpha}+-\\P{Alpha}").unwrap().matches("abc-1"));
        assert!(JavaRegex::compile("[\\p{Digit}_]+").unwrap().matches("1_2"));
        assert!(JavaRegex::compile("\\Qa.b\\E.c").unwrap().matches("a.bxc"));
        assert!(!JavaRegex::compile("\\Qa.b\\E").unwrap().matches("axb"));
        assert!(JavaRegex::compile("\\\\p\\{Alpha}").unwrap().matches("\\p{Alpha}"));
        assert!(!JavaRegex::compile("\\w+").unwrap().matches("é"));
        assert!(JavaRegex::compile("(?i)ORDERS").unwrap().matches("orders"));
        assert!(JavaRegex::compile("(?x) orders # a comment").unwrap().matches("orders"));
        assert!(JavaRegex::compile("café-.+").unwrap().matches("café-x"));
        assert!(JavaRegex::compile("[^a]+").unwrap().matches("é"));
        assert!(JavaRegex::compile("(?<=a)b").is_err());
        assert!(JavaRegex::compile("(a)\\1").is_err());
        assert!(JavaRegex::compile("(ab").unwrap_err().contains("unclosed group"));
    }
}
