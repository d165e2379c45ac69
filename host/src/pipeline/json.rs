//! Lazily read JSON: the bytes of a record stay bytes; an object's fields are indexed once (name →
//! raw slice, borrowed), and only the fields a mapping reads are parsed, straight into what the
//! column needs. No `serde_json::Value` tree is built for the common case.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// A JSON document (or an already typed value) as a mapping reads it.
#[derive(Debug)]
pub enum Doc<'a> {
    /// An object, indexed: field names with their raw values, in document order.
    Object(Vec<(Cow<'a, str>, &'a RawValue)>),
    /// Any other JSON value, raw (a bare string, number, array…).
    Raw(&'a RawValue),
    /// A typed value (e.g. from the String converter, or a record key).
    Value(Value),
}

/// One value read from a document.
#[derive(Debug)]
pub enum Field<'a> {
    /// Raw JSON text of the field.
    Raw(&'a RawValue),
    /// A typed value.
    Value(Cow<'a, Value>),
}

impl Field<'_> {
    /// Whether it is JSON null.
    pub fn is_null(&self) -> bool {
        match self {
            Self::Raw(r) => r.get() == "null",
            Self::Value(v) => v.is_null(),
        }
    }

    /// The value as a `serde_json::Value` (parsed on demand for raw fields).
    pub fn to_value(&self) -> Result<Cow<'_, Value>, String> {
        match self {
            Self::Raw(r) => serde_json::from_str(r.get()).map(Cow::Owned).map_err(|e| format!("malformed JSON: {e}")),
            Self::Value(v) => Ok(Cow::Borrowed(v.as_ref())),
        }
    }

    /// A JSON string's text, without building a `Value` (None when the field is not a string).
    pub fn as_string(&self) -> Option<Cow<'_, str>> {
        match self {
            Self::Raw(r) if r.get().starts_with('"') => {
                // Borrowed when there is no escape in it, owned otherwise.
                serde_json::from_str::<&str>(r.get())
                    .map(Cow::Borrowed)
                    .or_else(|_| serde_json::from_str::<String>(r.get()).map(Cow::Owned))
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
        if text.trim_start_matches([' ', '\n', '\r', '\t']).starts_with('{') {
            // One pass: each field's value is validated as it is captured, then nothing may follow.
            let mut de = serde_json::Deserializer::from_str(text);
            let fields = IndexObject
                .deserialize(&mut de)
                .and_then(|fields| de.end().map(|()| fields))
                .map_err(|e| format!("malformed JSON: {e}"))?;
            return Ok(Self::Object(fields));
        }
        Self::from_raw(serde_json::from_str::<&RawValue>(text).map_err(|e| format!("malformed JSON: {e}"))?)
    }

    /// Indexes a raw JSON value.
    pub fn from_raw(raw: &'a RawValue) -> Result<Self, String> {
        if !raw.get().starts_with('{') {
            return Ok(Self::Raw(raw));
        }
        let mut de = serde_json::Deserializer::from_str(raw.get());
        let fields = IndexObject.deserialize(&mut de).map_err(|e| format!("malformed JSON: {e}"))?;
        Ok(Self::Object(fields))
    }

    /// A top-level field of an object, as written (the common case of a mapping, kept small so the
    /// caller gets it in registers).
    #[inline]
    pub fn raw_field(&self, name: &str) -> Option<&RawValue> {
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
                .map(|(k, v)| serde_json::from_str(v.get()).map(|v| (k.to_string(), v)))
                .collect::<Result<serde_json::Map<_, _>, _>>()
                .map(Value::Object)
                .map_err(|e| format!("malformed JSON: {e}")),
            Self::Raw(r) => serde_json::from_str(r.get()).map_err(|e| format!("malformed JSON: {e}")),
            Self::Value(v) => Ok(v.clone()),
        }
    }
}

/// Nested fields borrow from a temporary index; they are re-expressed as typed values.
fn into_owned_field(field: Field<'_>) -> Field<'static> {
    match field {
        Field::Raw(r) => Field::Value(Cow::Owned(serde_json::from_str(r.get()).unwrap_or(Value::Null))),
        Field::Value(v) => Field::Value(Cow::Owned(v.into_owned())),
    }
}

fn find<'a>(fields: &[(Cow<'_, str>, &'a RawValue)], name: &str) -> Option<&'a RawValue> {
    // Last one wins on duplicate names, as when JSON is parsed into a map.
    fields
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .or_else(|| fields.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map(|(_, v)| *v)
}

/// Deserializes an object into (name, raw value) pairs, borrowing from the input.
struct IndexObject;

impl<'de> DeserializeSeed<'de> for IndexObject {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for IndexObject {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(key) = map.next_key::<BorrowedOrOwned<'de>>()? {
            fields.push((key.0, map.next_value::<&'de RawValue>()?));
        }
        Ok(fields)
    }
}

/// A map key: borrowed when it has no escapes.
struct BorrowedOrOwned<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for BorrowedOrOwned<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = BorrowedOrOwned<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedOrOwned(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedOrOwned(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(BorrowedOrOwned(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
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

    #[test]
    fn duplicate_names_last_wins() {
        let doc = Doc::parse(br#"{"a": 1, "a": 2}"#).unwrap();
        assert_eq!(doc.get(&path("a")).unwrap().unwrap().to_value().unwrap().into_owned(), json!(2));
    }
}
