//! Lazily read JSON: the bytes of a record stay bytes; an object's fields are indexed once (name →
//! raw slice, borrowed), and only the fields a mapping reads are parsed, straight into what the
//! column needs. No `serde_json::Value` tree is built for the common case.
//!
//! The index is built in one pass by the plugin SDK's JSON reader (the same code the Wasm plugins
//! run): it checks JSON's grammar exactly as strictly as `serde_json` (no trailing commas, no leading
//! zeros, no control characters or lone surrogates in strings, nesting at most 127 deep) and records
//! where each top-level field's value starts and ends, building nothing else.

use std::borrow::Cow;

use serde_json::Value;

use crate::wasm::sdk_value::json::Parser;

/// A JSON document (or an already typed value) as a mapping reads it.
#[derive(Debug)]
pub enum Doc<'a> {
    /// An object, indexed: field names with their raw JSON text, in document order.
    Object(Vec<(Cow<'a, str>, &'a str)>),
    /// Any other JSON value, as written (a bare string, number, array…).
    Raw(&'a str),
    /// A typed value (e.g. from the String converter, or a record key).
    Value(Value),
}

/// One value read from a document.
#[derive(Debug)]
pub enum Field<'a> {
    /// Raw JSON text of the field (checked well-formed when the document was indexed).
    Raw(&'a str),
    /// A typed value.
    Value(Cow<'a, Value>),
}

impl Field<'_> {
    /// Whether it is JSON null.
    pub fn is_null(&self) -> bool {
        match self {
            Self::Raw(r) => *r == "null",
            Self::Value(v) => v.is_null(),
        }
    }

    /// The value as a `serde_json::Value` (parsed on demand for raw fields).
    pub fn to_value(&self) -> Result<Cow<'_, Value>, String> {
        match self {
            Self::Raw(r) => serde_json::from_str(r).map(Cow::Owned).map_err(|e| format!("malformed JSON: {e}")),
            Self::Value(v) => Ok(Cow::Borrowed(v.as_ref())),
        }
    }

    /// A JSON string's text, without building a `Value` (None when the field is not a string).
    pub fn as_string(&self) -> Option<Cow<'_, str>> {
        match self {
            Self::Raw(r) if r.starts_with('"') => {
                // Borrowed when there is no escape in it, owned otherwise.
                serde_json::from_str::<&str>(r)
                    .map(Cow::Borrowed)
                    .or_else(|_| serde_json::from_str::<String>(r).map(Cow::Owned))
                    .ok()
            }
            Self::Raw(_) => None,
            Self::Value(v) => v.as_str().map(Cow::Borrowed),
        }
    }
}

impl<'a> Doc<'a> {
    /// Indexes JSON bytes: objects by field, anything else kept raw. Malformed JSON is an error.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("malformed JSON: not UTF-8: {e}"))?;
        Self::from_raw(text)
    }

    /// Indexes JSON text: an object by field, anything else kept raw (checked well-formed).
    pub fn from_raw(text: &'a str) -> Result<Self, String> {
        let mut p = Parser { text, bytes: text.as_bytes(), at: 0, depth: 0 };
        p.skip_ws();
        let start = p.at;
        let doc = if p.bytes.get(p.at) == Some(&b'{') {
            let mut fields = Vec::with_capacity(16);
            p.members(|p| {
                let name = p.key()?;
                p.colon()?;
                let value = p.at;
                p.skip()?;
                fields.push((name, &text[value..p.at]));
                Ok(())
            })
            .map(|()| Self::Object(fields))
        } else {
            p.skip().map(|()| Self::Raw(&text[start..p.at]))
        };
        let doc = doc.map_err(|what| malformed(text, p.at, what))?;
        p.skip_ws();
        if p.at < text.len() {
            return Err(malformed(text, p.at, "trailing characters"));
        }
        Ok(doc)
    }

    /// A top-level field of an object, as written (the common case of a mapping, kept small so the
    /// caller gets it in registers).
    #[inline]
    pub fn raw_field(&self, name: &str) -> Option<&'a str> {
        match self {
            Self::Object(fields) => find(fields, name),
            _ => None,
        }
    }

    /// The field at `path` (exact names first, then case-insensitively); an empty path is the
    /// whole document. `Ok(None)` when absent.
    pub fn get(&self, path: &[String]) -> Result<Option<Field<'_>>, String> {
        let Some((first, rest)) = path.split_first() else {
            return Ok(Some(match self {
                Self::Object(_) => return Ok(Some(Field::Value(Cow::Owned(self.to_value()?)))),
                Self::Raw(r) => Field::Raw(r),
                Self::Value(v) => Field::Value(Cow::Borrowed(v)),
            }));
        };
        match self {
            Self::Object(fields) => {
                let Some(raw) = find(fields, first) else { return Ok(None) };
                if rest.is_empty() {
                    return Ok(Some(Field::Raw(raw)));
                }
                // Nested: index that object too (only for the mappings that go deeper).
                match Doc::from_raw(raw)? {
                    Doc::Object(inner) => Doc::Object(inner).get(rest).map(|f| f.map(into_owned_field)),
                    _ => Ok(None),
                }
            }
            Self::Raw(_) => Ok(None),
            Self::Value(v) => {
                Ok(crate::connectors::sink::writer::lookup(v, path).map(|v| Field::Value(Cow::Borrowed(v))))
            }
        }
    }

    /// The whole document as a `serde_json::Value`.
    pub fn to_value(&self) -> Result<Value, String> {
        match self {
            Self::Object(fields) => fields
                .iter()
                .map(|(k, v)| serde_json::from_str(v).map(|v| (k.to_string(), v)))
                .collect::<Result<serde_json::Map<_, _>, _>>()
                .map(Value::Object)
                .map_err(|e| format!("malformed JSON: {e}")),
            Self::Raw(r) => serde_json::from_str(r).map_err(|e| format!("malformed JSON: {e}")),
            Self::Value(v) => Ok(v.clone()),
        }
    }
}

/// Nested fields borrow from a temporary index; they are re-expressed as typed values.
fn into_owned_field(field: Field<'_>) -> Field<'static> {
    match field {
        Field::Raw(r) => Field::Value(Cow::Owned(serde_json::from_str(r).unwrap_or(Value::Null))),
        Field::Value(v) => Field::Value(Cow::Owned(v.into_owned())),
    }
}

fn find<'a>(fields: &[(Cow<'_, str>, &'a str)], name: &str) -> Option<&'a str> {
    // Last one wins on duplicate names, as when JSON is parsed into a map.
    fields
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .or_else(|| fields.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map(|(_, v)| *v)
}

/// `malformed JSON: <what> at line L column C` (where the reader stopped, as `serde_json` words
/// its errors).
fn malformed(text: &str, at: usize, what: &str) -> String {
    let before = &text[..text.floor_char_boundary(at)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("malformed JSON: {what} at line {line} column {column}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    #[test]
    fn fields_are_read_lazily_and_exactly() {
        let bytes = br#"{"a": 1, "s": "x\"y", "Camel": true, "n": {"deep": [1, 2]}, "z": null}"#;
        let doc = Doc::parse(bytes).unwrap();
        assert!(matches!(doc, Doc::Object(ref f) if f.len() == 5));
        assert_eq!(doc.get(&path("a")).unwrap().unwrap().to_value().unwrap().into_owned(), json!(1));
        assert_eq!(doc.get(&path("s")).unwrap().unwrap().as_string().unwrap(), "x\"y");
        assert_eq!(doc.get(&path("camel")).unwrap().unwrap().to_value().unwrap().into_owned(), json!(true));
        assert_eq!(doc.get(&path("n.deep")).unwrap().unwrap().to_value().unwrap().into_owned(), json!([1, 2]));
        assert!(doc.get(&path("z")).unwrap().unwrap().is_null());
        assert!(doc.get(&path("missing")).unwrap().is_none());
        assert!(doc.get(&path("a.b")).unwrap().is_none());
        assert_eq!(doc.get(&[]).unwrap().unwrap().to_value().unwrap().into_owned()["a"], json!(1));
        assert_eq!(doc.to_value().unwrap()["s"], json!("x\"y"));
    }

    #[test]
    fn malformed_json_is_an_error_and_scalars_stay_raw() {
        assert!(Doc::parse(b"{\"a\": ").unwrap_err().contains("malformed JSON"));
        assert!(Doc::parse(b"{\"a\": 1} trailing").unwrap_err().contains("malformed JSON"));
        assert!(Doc::parse(b"{\"a\": 1}}").unwrap_err().contains("malformed JSON"));
        assert!(Doc::parse(b"{\"a\": [1,]}").unwrap_err().contains("malformed JSON"));
        assert!(Doc::parse(b"{\"a\": 01}").unwrap_err().contains("malformed JSON"));
        assert!(matches!(Doc::parse(b" \n{\"a\": 1} \n").unwrap(), Doc::Object(ref f) if f.len() == 1));
        assert!(Doc::parse(&[0xff]).unwrap_err().contains("UTF-8"));
        let doc = Doc::parse(b"\"just text\"").unwrap();
        assert_eq!(doc.get(&[]).unwrap().unwrap().as_string().unwrap(), "just text");
        assert!(doc.get(&path("a")).unwrap().is_none());
    }

    /// The scanner accepts exactly what `serde_json` accepts, and indexes the same fields.
    #[test]
    fn the_scanner_agrees_with_serde_json() {
        let documents = [
            r#"{}"#,
            r#" { "a" : 1 , "b":[1, 2.5e-3, -0, "x", {"c": [true, false, null]}], "d": {} } "#,
            r#"{"esc\"aped": "\u00e9\n\t\/\\", "é": "ünï", "n": -12.5E+7}"#,
            r#"{"a": 1,}"#,
            r#"{"a": [1, 2,]}"#,
            r#"{"a": 01}"#,
            r#"{"a": -}"#,
            r#"{"a": 1.}"#,
            r#"{"a": .5}"#,
            r#"{"a": 1e}"#,
            r#"{"a": +1}"#,
            r#"{"a" 1}"#,
            r#"{a: 1}"#,
            r#"{"a": tru}"#,
            r#"{"a": nul}"#,
            r#"{"a": "\x"}"#,
            r#"{"a": "\u12G4"}"#,
            "{\"a\": \"tab\there\"}",
            r#"{"a": "open}"#,
            r#"{"a": [1, 2}"#,
            r#"{"a": {"b": 1]}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1}}"#,
            r#"{"a": 1"#,
            r#"{"#,
            r#"{"a": [1 2]}"#,
            r#"{"a": {"b" 2}}"#,
            r#"{"a": {1: 2}}"#,
            r#"{"a": NaN}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": "\ud83d\ude00"}"#,
            r#"{"\ud800": 1}"#,
            r#"[1, {"a": 2}]"#,
            r#""text""#,
            r#" 12 "#,
            r#"1 2"#,
            r#""#,
            r#"   "#,
        ];
        for text in documents {
            let ours = Doc::from_raw(text);
            let theirs = serde_json::from_str::<Value>(text);
            assert_eq!(ours.is_ok(), theirs.is_ok(), "{text}: {ours:?} / {theirs:?}");
            match (ours, theirs) {
                (Ok(doc), Ok(value)) => assert_eq!(doc.to_value().unwrap(), value, "{text}"),
                (Err(e), _) => assert!(e.starts_with("malformed JSON: ") && e.contains(" at line 1 column "), "{e}"),
                _ => {}
            }
        }
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(126), "]".repeat(126));
        assert!(Doc::from_raw(&deep).is_ok(), "{:?}", Doc::from_raw(&deep).err());
        assert!(serde_json::from_str::<Value>(&deep).is_ok(), "{:?}", serde_json::from_str::<Value>(&deep).err());
        let too_deep = format!("{{\"a\": {}1{}}}", "[".repeat(127), "]".repeat(127));
        assert!(Doc::from_raw(&too_deep).unwrap_err().contains("nested too deeply"));
        assert!(serde_json::from_str::<Value>(&too_deep).is_err());
        let error = Doc::from_raw("{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
        assert_eq!(error, "malformed JSON: expected ':' at line 3 column 7");
    }

    #[test]
    fn duplicate_names_last_wins() {
        let doc = Doc::parse(br#"{"a": 1, "a": 2}"#).unwrap();
        assert_eq!(doc.get(&path("a")).unwrap().unwrap().to_value().unwrap().into_owned(), json!(2));
    }
}
