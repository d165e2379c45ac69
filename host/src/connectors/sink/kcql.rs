//! The sink's KCQL (Lenses' Kafka Connect Query Language), parsed into a typed statement:
//!
//! ```text
//! INSERT INTO <table | ks.table> SELECT <* | field [AS alias] | nested.path [AS alias] | nested.*, …>
//! FROM <topic> [IGNORE f1, f2] [TTL=<seconds>]
//! ```
//! Several statements are separated by `;`; one topic may fan out to several tables.

/// One projection of the SELECT list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    /// `*`: every table column from the value field of the same name.
    All,
    /// `path.*`: every table column from the field of the same name inside `path`.
    AllUnder(Vec<String>),
    /// `a.b.c [AS col]`: one column (named `alias`, or the last path element).
    Field {
        /// Path into the record value.
        path: Vec<String>,
        /// Target column.
        column: String,
    },
}

/// A parsed `INSERT INTO … SELECT … FROM …` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkStatement {
    /// Target keyspace, when the statement names one (`ks.table`).
    pub keyspace: Option<String>,
    /// Target table.
    pub table: String,
    /// Source topic.
    pub topic: String,
    /// What to select.
    pub projections: Vec<Projection>,
    /// Top-level fields left out (`IGNORE`).
    pub ignore: Vec<String>,
    /// `TTL=<seconds>`.
    pub ttl_seconds: Option<u32>,
}

/// A KCQL token: a word, a `` `quoted` `` name or `'string'` (quoted), or one of `,` `=` `(` `)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) text: String,
    pub(crate) quoted: bool,
}

impl Token {
    pub(crate) fn is_keyword(&self, keyword: &str) -> bool {
        !self.quoted && self.text.eq_ignore_ascii_case(keyword)
    }
}

/// Splits a KCQL statement into tokens (shared by the sink's and the source's grammar).
pub(crate) fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '`' || c == '\'' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some(q) if q == c => break,
                    Some(ch) => text.push(ch),
                    None => return Err(format!("unterminated {c}quoted{c} text starting with {c}{text}")),
                }
            }
            tokens.push(Token { text, quoted: true });
        } else if matches!(c, ',' | '=' | '(' | ')') {
            chars.next();
            tokens.push(Token { text: c.to_string(), quoted: false });
        } else if is_word_char(c) {
            let mut text = String::new();
            while let Some(&ch) = chars.peek().filter(|ch| is_word_char(**ch)) {
                text.push(ch);
                chars.next();
            }
            tokens.push(Token { text, quoted: false });
        } else {
            return Err(format!("unexpected character '{c}'"));
        }
    }
    Ok(tokens)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '*')
}

/// Parses one or more `;`-separated statements.
pub fn parse(kcql: &str) -> Result<Vec<SinkStatement>, String> {
    parse_each(kcql, parse_one)
}

/// Splits KCQL into its `;`-separated statements and parses each with `one`; an error names the
/// statement when there are several (shared by the sink's and the source's grammar).
pub(crate) fn parse_each<T>(kcql: &str, one: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let statements: Vec<&str> = kcql.split(';').map(str::trim).filter(|s| !s.is_empty()).collect();
    if statements.is_empty() {
        return Err("no KCQL statement".into());
    }
    statements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            one(s).map_err(|e| if statements.len() == 1 { e } else { format!("statement {} (`{s}`): {e}", i + 1) })
        })
        .collect()
}

/// A position in a statement's tokens.
pub(crate) struct Cursor {
    pub(crate) tokens: Vec<Token>,
    pub(crate) at: usize,
}

impl Cursor {
    pub(crate) fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    pub(crate) fn next(&mut self, what: &str) -> Result<Token, String> {
        let t = self.tokens.get(self.at).cloned().ok_or_else(|| format!("expected {what}, found the end"))?;
        self.at += 1;
        Ok(t)
    }

    pub(crate) fn keyword(&mut self, keyword: &str) -> Result<(), String> {
        let t = self.next(keyword)?;
        if t.is_keyword(keyword) { Ok(()) } else { Err(format!("expected {keyword}, found '{}'", t.text)) }
    }

    pub(crate) fn name(&mut self, what: &str) -> Result<String, String> {
        let t = self.next(what)?;
        if !t.quoted && (matches!(t.text.as_str(), "," | "=" | "(" | ")") || t.text.contains('*')) {
            return Err(format!("expected {what}, found '{}'", t.text));
        }
        Ok(t.text)
    }

    pub(crate) fn comma(&mut self) -> bool {
        if self.peek().is_some_and(|t| t.text == "," && !t.quoted) {
            self.at += 1;
            true
        } else {
            false
        }
    }
}

fn parse_one(statement: &str) -> Result<SinkStatement, String> {
    let mut c = Cursor { tokens: tokenize(statement)?, at: 0 };
    c.keyword("INSERT")?;
    c.keyword("INTO")?;
    let target = c.name("a table name")?;
    let (keyspace, table) = match target.split_once('.') {
        Some((ks, t)) if !ks.is_empty() && !t.is_empty() && !t.contains('.') => (Some(ks.to_string()), t.to_string()),
        Some(_) => return Err(format!("'{target}' is not a table or keyspace.table name")),
        None => (None, target),
    };
    c.keyword("SELECT")?;
    let mut projections = Vec::new();
    loop {
        projections.push(projection(&mut c)?);
        if !c.comma() {
            break;
        }
    }
    c.keyword("FROM")?;
    let topic = c.name("a topic name")?;
    let (mut ignore, mut ttl_seconds) = (Vec::new(), None);
    while let Some(t) = c.peek().cloned() {
        c.at += 1;
        if t.is_keyword("IGNORE") {
            loop {
                ignore.push(c.name("a field name after IGNORE")?);
                if !c.comma() {
                    break;
                }
            }
        } else if t.is_keyword("TTL") {
            let eq = c.next("'=' after TTL")?;
            if eq.text != "=" {
                return Err(format!("expected '=' after TTL, found '{}'", eq.text));
            }
            let n = c.next("a number of seconds after TTL=")?;
            ttl_seconds =
                Some(n.text.parse().map_err(|_| format!("TTL must be a whole number of seconds, not '{}'", n.text))?);
        } else {
            return Err(format!("'{}' is not a sink KCQL clause (supported: IGNORE, TTL)", t.text));
        }
    }
    Ok(SinkStatement { keyspace, table, topic, projections, ignore, ttl_seconds })
}

fn projection(c: &mut Cursor) -> Result<Projection, String> {
    let t = c.next("a field, or *")?;
    if t.text == "*" && !t.quoted {
        return Ok(Projection::All);
    }
    if t.text == "," || t.text == "=" || t.is_keyword("FROM") {
        return Err(format!("expected a field, found '{}'", t.text));
    }
    let path: Vec<String> =
        if t.quoted { vec![t.text.clone()] } else { t.text.split('.').map(str::to_string).collect() };
    if path.iter().any(String::is_empty) {
        return Err(format!("'{}' is not a field path", t.text));
    }
    if path.last().is_some_and(|p| p == "*") {
        if c.peek().is_some_and(|n| n.is_keyword("AS")) {
            return Err(format!("'{}' selects several fields and cannot take AS", t.text));
        }
        return Ok(Projection::AllUnder(path[..path.len() - 1].to_vec()));
    }
    if path.iter().any(|p| p.contains('*')) {
        return Err(format!("'{}' is not a field path", t.text));
    }
    let column = if c.peek().is_some_and(|n| n.is_keyword("AS")) {
        c.at += 1;
        c.name("a column name after AS")?
    } else {
        path.last().cloned().expect("non-empty path")
    };
    Ok(Projection::Field { path, column })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(path: &str, column: &str) -> Projection {
        Projection::Field { path: path.split('.').map(str::to_string).collect(), column: column.into() }
    }

    #[test]
    fn star() {
        let s = parse("INSERT INTO readings SELECT * FROM iot-readings").unwrap();
        assert_eq!(
            s,
            vec![SinkStatement {
                keyspace: None,
                table: "readings".into(),
                topic: "iot-readings".into(),
                projections: vec![Projection::All],
                ignore: vec![],
                ttl_seconds: None
            }]
        );
    }

    #[test]
    fn fields_aliases_nesting_ignore_ttl_and_several_statements() {
        let s = parse(
            "insert into ks.t1 select id, f2 as c2, nested.f3 AS c3, inner.* from orders IGNORE secret, other TTL=3600; \
             INSERT INTO t2 SELECT `Weird Name` FROM orders",
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].keyspace.as_deref(), Some("ks"));
        assert_eq!(
            s[0].projections,
            vec![
                field("id", "id"),
                field("f2", "c2"),
                field("nested.f3", "c3"),
                Projection::AllUnder(vec!["inner".into()])
            ]
        );
        assert_eq!(s[0].ignore, vec!["secret", "other"]);
        assert_eq!(s[0].ttl_seconds, Some(3600));
        assert_eq!(
            s[1].projections,
            vec![Projection::Field { path: vec!["Weird Name".into()], column: "Weird Name".into() }]
        );
    }

    #[test]
    fn errors_say_what_was_expected() {
        for (kcql, needle) in [
            ("", "no KCQL statement"),
            ("UPSERT INTO t SELECT * FROM x", "expected INSERT"),
            ("INSERT INTO t SELECT * x", "expected FROM"),
            ("INSERT INTO t SELECT FROM x", "expected a field"),
            ("INSERT INTO t SELECT * FROM", "expected a topic name, found the end"),
            ("INSERT INTO t SELECT * FROM x TTL=soon", "whole number"),
            ("INSERT INTO t SELECT * FROM x PK id", "'PK' is not a sink KCQL clause"),
            ("INSERT INTO t SELECT a.* AS b FROM x", "cannot take AS"),
            ("INSERT INTO t SELECT `a FROM x", "unterminated"),
            ("INSERT INTO a.b.c SELECT * FROM x", "keyspace.table"),
            ("INSERT INTO t SELECT * FROM x; INSERT t2", "statement 2"),
        ] {
            let err = parse(kcql).unwrap_err();
            assert!(err.contains(needle), "{kcql}: {err}");
        }
    }
}
