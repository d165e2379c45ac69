//! A JSON object edited field by field without building its values: the fast path of transforms
//! that rename, drop, insert or replace a few top-level fields and copy the rest through.
//!
//! [`RawObject::parse`] checks the whole text as [`Value::from_json`] does, but keeps each field's
//! value as the bytes it was written with; only the fields a transform sets are written anew.
//! Values copied through keep their spelling (`1.50`, `"\u00e9"`), which reads back as the same
//! JSON.

use std::borrow::Cow;

use crate::value::Value;
use crate::value::json::{self, Parser};

/// A field's value: the bytes it was read with, or a new value.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue<'a> {
    /// As written in the input (a complete, checked JSON value).
    Json(&'a [u8]),
    /// Set by the transform.
    New(Value),
}

/// One field of a [`RawObject`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawField<'a> {
    /// Its name, decoded.
    pub name: Cow<'a, str>,
    /// Where `"name":value` was written in the input (start, end), while both are unchanged.
    written: Option<(usize, usize)>,
    /// Its value.
    pub value: RawValue<'a>,
}

impl RawField<'_> {
    /// The value, built (a new one is cloned).
    pub fn to_value(&self) -> Value {
        match &self.value {
            RawValue::New(v) => v.clone(),
            // Checked when the object was read.
            RawValue::Json(bytes) => Value::from_json(bytes).unwrap_or(Value::Null),
        }
    }
}

/// A JSON object's fields in order, values left as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RawObject<'a> {
    fields: Vec<RawField<'a>>,
    /// The input.
    source: &'a [u8],
}

impl<'a> RawObject<'a> {
    /// Reads JSON text: `Ok(None)` when it is valid JSON but not an object, an error (worded as
    /// [`Value::from_json`]'s) when it is not valid JSON.
    pub fn parse(bytes: &'a [u8]) -> Result<Option<RawObject<'a>>, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("not valid JSON: not UTF-8 ({e})"))?;
        let mut p = Parser { text, bytes, at: 0, depth: 0 };
        let object = Self::read(&mut p).map_err(|e| format!("not valid JSON: {e} at byte {}", p.at))?;
        p.skip_ws();
        if p.at != bytes.len() {
            return Err(format!("not valid JSON: trailing characters at byte {}", p.at));
        }
        Ok(object)
    }

    fn read(p: &mut Parser<'a>) -> Result<Option<RawObject<'a>>, &'static str> {
        p.skip_ws();
        if p.bytes.get(p.at) != Some(&b'{') {
            p.skip()?;
            return Ok(None);
        }
        let mut fields = Vec::with_capacity(12);
        p.members(|p| {
            let name_at = p.at;
            let name = p.key()?;
            p.colon()?;
            let value_at = p.at;
            p.skip()?;
            let value = RawValue::Json(&p.bytes[value_at..p.at]);
            fields.push(RawField { name, written: Some((name_at, p.at)), value });
            Ok(())
        })?;
        Ok(Some(RawObject { fields, source: p.bytes }))
    }

    /// The fields, in order (a name read twice is there twice, as in [`Value::Struct`]).
    pub fn fields(&self) -> &[RawField<'a>] {
        &self.fields
    }

    /// The first field called `name`.
    pub fn field(&self, name: &str) -> Option<&RawField<'a>> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Sets field `name`: its first occurrence is replaced in place, or it is appended (as
    /// [`Value::insert`] does).
    pub fn set(&mut self, name: &str, value: Value) {
        match self.fields.iter_mut().find(|f| f.name == name) {
            Some(f) => {
                f.value = RawValue::New(value);
                f.written = None;
            }
            None => self.fields.push(RawField {
                name: Cow::Owned(name.to_string()),
                written: None,
                value: RawValue::New(value),
            }),
        }
    }

    /// Keeps the fields `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.fields.retain(|f| keep(&f.name));
    }

    /// Renames every field `rename` gives a new name.
    pub fn rename<'n>(&mut self, rename: impl Fn(&str) -> Option<&'n str>) {
        for f in &mut self.fields {
            if let Some(to) = rename(&f.name) {
                f.name = Cow::Owned(to.to_string());
                f.written = None;
            }
        }
    }

    /// The object as a [`Value::Struct`].
    pub fn to_value(&self) -> Value {
        Value::Struct(self.fields.iter().map(|f| (f.name.to_string(), f.to_value())).collect())
    }

    /// Writes the object: unchanged fields are copied as they were read, runs of them that were
    /// written side by side in one piece.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.source.len() + 64);
        out.push(b'{');
        // A run of unchanged fields, adjacent in the input (only a comma between them).
        let mut run: Option<(usize, usize)> = None;
        let mut first = true;
        for f in &self.fields {
            if let Some((start, end)) = f.written {
                run = match run {
                    Some((from, to)) if start == to + 1 && self.source[to] == b',' => Some((from, end)),
                    other => {
                        self.flush(&mut out, other, &mut first);
                        Some((start, end))
                    }
                };
                continue;
            }
            self.flush(&mut out, run.take(), &mut first);
            if !first {
                out.push(b',');
            }
            first = false;
            json::write_str(&mut out, &f.name);
            out.push(b':');
            match &f.value {
                RawValue::Json(bytes) => out.extend_from_slice(bytes),
                RawValue::New(v) => json::write(&mut out, v),
            }
        }
        self.flush(&mut out, run, &mut first);
        out.push(b'}');
        out
    }

    fn flush(&self, out: &mut Vec<u8>, run: Option<(usize, usize)>, first: &mut bool) {
        if let Some((from, to)) = run {
            if !*first {
                out.push(b',');
            }
            *first = false;
            out.extend_from_slice(&self.source[from..to]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same JSON as the bytes say, by serde_json.
    fn same(a: &[u8], b: &[u8]) {
        let (a, b): (serde_json::Value, serde_json::Value) =
            (serde_json::from_slice(a).unwrap(), serde_json::from_slice(b).unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn reads_and_writes_back_every_kind_of_value() {
        let text = br#" { "a" : 1 , "b":-2.50,"c":"x\"y\u00e9","d":[true, {"e":null}],"f":{},"g":1e3, "h\n":"" } "#;
        let o = RawObject::parse(text).unwrap().unwrap();
        let names: Vec<&str> = o.fields().iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(names, ["a", "b", "c", "d", "f", "g", "h\n"]);
        assert_eq!(o.field("b").unwrap().value, RawValue::Json(b"-2.50"));
        assert_eq!(o.to_value(), Value::from_json(text).unwrap());
        same(&o.to_json(), text);
        assert_eq!(
            o.to_json(),
            br#"{"a" : 1,"b":-2.50,"c":"x\"y\u00e9","d":[true, {"e":null}],"f":{},"g":1e3,"h\n":""}"#
        );
    }

    #[test]
    fn edits_fields_in_place_and_appends_new_ones() {
        let mut o = RawObject::parse(br#"{"a":1,"b":2,"a":3,"c":{"x":1}}"#).unwrap().unwrap();
        o.set("a", Value::from("one"));
        o.set("z", Value::Int64(26));
        o.rename(|n| (n == "b").then_some("be\"e"));
        o.retain(|n| n != "c");
        assert_eq!(o.to_json(), br#"{"a":"one","be\"e":2,"a":3,"z":26}"#);
        let mut o = RawObject::parse(br#"{"a":1,"b":2,"c":3,"d":4,"e":5}"#).unwrap().unwrap();
        o.retain(|n| n != "c");
        o.rename(|n| (n == "e").then_some("E"));
        assert_eq!(o.to_json(), br#"{"a":1,"b":2,"d":4,"E":5}"#, "runs of untouched fields, split where edited");
        o.retain(|n| n == "E");
        assert_eq!(o.to_json(), br#"{"E":5}"#);
    }

    #[test]
    fn rejects_what_from_json_rejects_and_tells_objects_from_other_values() {
        for bad in [
            &b"{"[..],
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"{\"a\":01}",
            b"{\"a\":-}",
            b"{\"a\":1.}",
            b"{\"a\":1.e5}",
            b"{\"a\":1e}",
            b"{\"a\":1e+}",
            b"{} x",
            b"{\"a\":\"\\q\"}",
            b"[1,]",
        ] {
            let raw = RawObject::parse(bad).unwrap_err();
            let full = Value::from_json(bad).unwrap_err();
            assert!(raw.starts_with("not valid JSON"), "{raw}");
            assert!(full.starts_with("not valid JSON"), "{full}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(RawObject::parse(deep.as_bytes()).is_err(), "too deep");
        for good in [&b"0"[..], b"-0.5", b"10", b"1E+2", b"-12.5e-3", b"12345678901234567890"] {
            assert!(Value::from_json(good).is_ok(), "{}", String::from_utf8_lossy(good));
        }
        assert_eq!(RawObject::parse(b" [1, 2] ").unwrap(), None);
        assert_eq!(RawObject::parse(b"\"text\"").unwrap(), None);
        assert_eq!(RawObject::parse(b"{}").unwrap().unwrap().to_json(), b"{}");
    }
}
