//! Source offsets in Kafka Connect's layout: key `["<connector>", {partition}]`, value `{offset}`,
//! both JSON. In standalone mode they live in `offset.storage.file.filename`, in the very format
//! of Connect's `FileOffsetBackingStore` (a Java-serialized `HashMap<byte[], byte[]>`), so a file
//! written by Connect for a Lenses source is read as it is, and the other way round.
//!
//! Writes replace the file atomically (temporary file, fsync, rename): a crash leaves either the
//! old offsets or the new ones.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use serde_json::Value;

/// A worker's source offsets file, shared by every source task of the process that names it.
#[derive(Debug)]
pub struct OffsetFile {
    path: PathBuf,
    entries: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<OffsetFile>>>> = LazyLock::new(Mutex::default);

/// The offset key Connect writes: `["<connector>", {partition}]`, compact JSON.
pub fn key(connector: &str, partition: &Value) -> Vec<u8> {
    serde_json::to_vec(&Value::Array(vec![Value::String(connector.to_string()), partition.clone()]))
        .expect("JSON values serialize")
}

impl OffsetFile {
    /// Opens (or creates, empty) the file; one instance per path in the process.
    pub fn open(path: &Path) -> Result<Arc<Self>, String> {
        let mut open = OPEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(file) = open.get(path).and_then(Weak::upgrade) {
            return Ok(file);
        }
        let entries = match std::fs::read(path) {
            Ok(bytes) if bytes.is_empty() => BTreeMap::new(),
            Ok(bytes) => java::read_map(&bytes)
                .map_err(|e| format!("{}: not a Kafka Connect offsets file: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        let file = Arc::new(Self { path: path.to_path_buf(), entries: Mutex::new(entries) });
        open.insert(path.to_path_buf(), Arc::downgrade(&file));
        Ok(file)
    }

    /// The offset stored for a connector's partition.
    pub fn get(&self, connector: &str, partition: &Value) -> Option<Value> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.get(&key(connector, partition)).and_then(|v| serde_json::from_slice(v).ok())
    }

    /// Every offset of a connector: (partition, offset).
    pub fn all(&self, connector: &str) -> Vec<(Value, Value)> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .iter()
            .filter_map(|(k, v)| {
                let Ok(Value::Array(mut parts)) = serde_json::from_slice::<Value>(k) else { return None };
                if parts.len() != 2 || parts[0] != connector {
                    return None;
                }
                Some((parts.pop()?, serde_json::from_slice(v).ok()?))
            })
            .collect()
    }

    /// Stores offsets (`None` removes one) and writes the file before returning.
    pub fn put(&self, connector: &str, offsets: &[(Value, Option<Value>)]) -> Result<(), String> {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (partition, offset) in offsets {
            let k = key(connector, partition);
            match offset {
                Some(o) => entries.insert(k, serde_json::to_vec(o).expect("JSON values serialize")),
                None => entries.remove(&k),
            };
        }
        let bytes = java::write_map(&entries);
        let tmp = self.path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| format!("writing source offsets to {}: {e}", self.path.display()))
    }
}

/// Java object serialization of a `HashMap<byte[], byte[]>`, just what Connect's offset file holds.
mod java {
    use std::collections::BTreeMap;

    const MAGIC: [u8; 4] = [0xac, 0xed, 0x00, 0x05];
    const TC_NULL: u8 = 0x70;
    const TC_REFERENCE: u8 = 0x71;
    const TC_CLASSDESC: u8 = 0x72;
    const TC_OBJECT: u8 = 0x73;
    const TC_STRING: u8 = 0x74;
    const TC_ARRAY: u8 = 0x75;
    const TC_BLOCKDATA: u8 = 0x77;
    const TC_ENDBLOCKDATA: u8 = 0x78;
    const HASHMAP_UID: [u8; 8] = [0x05, 0x07, 0xda, 0xc1, 0xc3, 0x16, 0x60, 0xd1];
    const BYTES_UID: [u8; 8] = [0xac, 0xf3, 0x17, 0xf8, 0x06, 0x08, 0x54, 0xe0];

    fn utf(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    pub fn write_map(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend([TC_OBJECT, TC_CLASSDESC]);
        utf(&mut out, "java.util.HashMap");
        out.extend(HASHMAP_UID);
        out.extend([0x03, 0x00, 0x02]); // SC_SERIALIZABLE | SC_WRITE_METHOD, 2 fields
        out.push(b'F');
        utf(&mut out, "loadFactor");
        out.push(b'I');
        utf(&mut out, "threshold");
        out.extend([TC_ENDBLOCKDATA, TC_NULL]);
        let mut capacity: u32 = 16;
        while (capacity as f64) * 0.75 < entries.len() as f64 {
            capacity *= 2;
        }
        out.extend(0.75f32.to_be_bytes());
        out.extend(((capacity as f64 * 0.75) as u32).to_be_bytes());
        out.extend([TC_BLOCKDATA, 8]);
        out.extend(capacity.to_be_bytes());
        out.extend((entries.len() as u32).to_be_bytes());
        // Handles: 0x7e0000 the HashMap's class, 0x7e0001 the map, 0x7e0002 byte[]'s class.
        let mut first = true;
        for (k, v) in entries {
            for bytes in [k, v] {
                out.push(TC_ARRAY);
                if first {
                    out.push(TC_CLASSDESC);
                    utf(&mut out, "[B");
                    out.extend(BYTES_UID);
                    out.extend([0x02, 0x00, 0x00, TC_ENDBLOCKDATA, TC_NULL]);
                    first = false;
                } else {
                    out.extend([TC_REFERENCE, 0x00, 0x7e, 0x00, 0x02]);
                }
                out.extend((bytes.len() as u32).to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
        out.push(TC_ENDBLOCKDATA);
        out
    }

    struct Reader<'a> {
        b: &'a [u8],
        at: usize,
    }

    impl Reader<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], String> {
            let s = self.b.get(self.at..self.at + n).ok_or("it ends early")?;
            self.at += n;
            Ok(s)
        }
        fn u8(&mut self) -> Result<u8, String> {
            Ok(self.take(1)?[0])
        }
        fn u16(&mut self) -> Result<u16, String> {
            Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2")))
        }
        fn u32(&mut self) -> Result<u32, String> {
            Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4")))
        }
        fn utf(&mut self) -> Result<String, String> {
            let n = self.u16()? as usize;
            Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
        }
        fn expect(&mut self, byte: u8, what: &str) -> Result<(), String> {
            let got = self.u8()?;
            if got == byte {
                Ok(())
            } else {
                Err(format!("expected {what} (0x{byte:02x}) at byte {}, found 0x{got:02x}", self.at - 1))
            }
        }

        /// A class description (after TC_CLASSDESC): returns its name and field type codes.
        fn class_desc(&mut self) -> Result<(String, Vec<u8>), String> {
            let name = self.utf()?;
            self.take(9)?; // serialVersionUID, flags
            let n = self.u16()?;
            let mut types = Vec::new();
            for _ in 0..n {
                let t = self.u8()?;
                self.utf()?;
                if t == b'L' || t == b'[' {
                    match self.u8()? {
                        TC_STRING => {
                            self.utf()?;
                        }
                        TC_REFERENCE => {
                            self.u32()?;
                        }
                        other => return Err(format!("unexpected 0x{other:02x} in a field's class name")),
                    }
                }
                types.push(t);
            }
            self.expect(TC_ENDBLOCKDATA, "the end of a class annotation")?;
            match self.u8()? {
                TC_NULL => {}
                other => return Err(format!("unexpected superclass marker 0x{other:02x} of {name}")),
            }
            Ok((name, types))
        }

        /// A `byte[]` or null.
        fn bytes(&mut self) -> Result<Option<Vec<u8>>, String> {
            match self.u8()? {
                TC_NULL => return Ok(None),
                TC_ARRAY => {}
                other => return Err(format!("expected a byte array, found 0x{other:02x}")),
            }
            match self.u8()? {
                TC_CLASSDESC => {
                    let (name, _) = self.class_desc()?;
                    if name != "[B" {
                        return Err(format!("expected byte[] entries, found {name}"));
                    }
                }
                TC_REFERENCE => {
                    self.u32()?;
                }
                other => return Err(format!("unexpected 0x{other:02x} for an array's class")),
            }
            let n = self.u32()? as usize;
            Ok(Some(self.take(n)?.to_vec()))
        }
    }

    pub fn read_map(b: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, String> {
        let mut r = Reader { b, at: 0 };
        if r.take(4)? != MAGIC {
            return Err("no Java serialization header".into());
        }
        r.expect(TC_OBJECT, "an object")?;
        r.expect(TC_CLASSDESC, "a class description")?;
        let (name, types) = r.class_desc()?;
        if name != "java.util.HashMap" {
            return Err(format!("it holds a {name}, not a java.util.HashMap"));
        }
        for t in types {
            r.take(match t {
                b'B' | b'Z' => 1,
                b'C' | b'S' => 2,
                b'F' | b'I' => 4,
                b'D' | b'J' => 8,
                other => return Err(format!("unexpected field type '{}'", other as char)),
            })?;
        }
        r.expect(TC_BLOCKDATA, "block data")?;
        let len = r.u8()? as usize;
        let block = r.take(len)?;
        let size = u32::from_be_bytes(block.get(4..8).ok_or("short block data")?.try_into().expect("4"));
        let mut entries = BTreeMap::new();
        for _ in 0..size {
            let k = r.bytes()?;
            let v = r.bytes()?;
            if let (Some(k), Some(v)) = (k, v) {
                entries.insert(k, v);
            }
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `java.util.HashMap<byte[], byte[]>` with one entry `{"a": "b"}` as `ObjectOutputStream`
    /// writes it (bytes from OpenJDK 17).
    const JAVA_WRITTEN: &[u8] = &[
        0xac, 0xed, 0x00, 0x05, 0x73, 0x72, 0x00, 0x11, b'j', b'a', b'v', b'a', b'.', b'u', b't', b'i', b'l', b'.',
        b'H', b'a', b's', b'h', b'M', b'a', b'p', 0x05, 0x07, 0xda, 0xc1, 0xc3, 0x16, 0x60, 0xd1, 0x03, 0x00, 0x02,
        0x46, 0x00, 0x0a, b'l', b'o', b'a', b'd', b'F', b'a', b'c', b't', b'o', b'r', 0x49, 0x00, 0x09, b't', b'h',
        b'r', b'e', b's', b'h', b'o', b'l', b'd', 0x78, 0x70, 0x3f, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x77,
        0x08, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x75, 0x72, 0x00, 0x02, b'[', b'B', 0xac, 0xf3, 0x17,
        0xf8, 0x06, 0x08, 0x54, 0xe0, 0x02, 0x00, 0x00, 0x78, 0x70, 0x00, 0x00, 0x00, 0x01, b'a', 0x75, 0x71, 0x00,
        0x7e, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, b'b', 0x78,
    ];

    #[test]
    fn reads_and_writes_what_java_writes() {
        let map = java::read_map(JAVA_WRITTEN).unwrap();
        assert_eq!(map.get(b"a".as_slice()).map(Vec::as_slice), Some(b"b".as_slice()));
        assert_eq!(java::write_map(&map), JAVA_WRITTEN);
        assert!(java::read_map(b"{\"not\": \"java\"}").unwrap_err().contains("header"));
        assert!(java::read_map(&JAVA_WRITTEN[..60]).unwrap_err().contains("ends early"));
    }

    #[test]
    fn offsets_survive_reopening_in_connects_layout() {
        let dir = std::env::temp_dir().join(format!("spillway-offsets-{}", std::process::id()));
        let path = dir.join("offsets.dat");
        let _ = std::fs::remove_file(&path);
        let partition = json!({"connect.cassandra.assigned.tables": "orders"});
        {
            let file = OffsetFile::open(&path).unwrap();
            assert_eq!(file.get("c1", &partition), None);
            file.put("c1", &[(partition.clone(), Some(json!({"created": "2024-05-01 10:00:00.123Z"})))]).unwrap();
            file.put("c2", &[(partition.clone(), Some(json!({"created": "x"})))]).unwrap();
        }
        let file = OffsetFile::open(&path).unwrap();
        assert_eq!(file.get("c1", &partition), Some(json!({"created": "2024-05-01 10:00:00.123Z"})));
        assert_eq!(file.all("c2"), vec![(partition.clone(), json!({"created": "x"}))]);
        let raw = std::fs::read(&path).unwrap();
        let needle = br#"["c1",{"connect.cassandra.assigned.tables":"orders"}]"#;
        assert!(raw.windows(needle.len()).any(|w| w == needle), "Connect's key layout");
        file.put("c1", &[(partition.clone(), None)]).unwrap();
        assert_eq!(file.get("c1", &partition), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
