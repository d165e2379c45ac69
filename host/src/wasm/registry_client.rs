//! The schema-registry import's client: Confluent's REST API (also Karapace's), plain HTTP/1.1.
//! Guest code runs on the plugin threads, never on tokio's, so a blocking client is right here.
//! Schemas are immutable per id, so lookups are cached for the process's life.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A schema registry at one base URL (`http://host:port`).
#[derive(Debug)]
pub struct SchemaRegistryClient {
    host: String,
    port: u16,
    base_path: String,
    by_id: Mutex<HashMap<u32, (String, String)>>,
    ids: Mutex<HashMap<(String, String), u32>>,
}

impl SchemaRegistryClient {
    /// Parses `schema.registry.url` (the first of a comma-separated list).
    pub fn new(url: &str) -> Result<Self, String> {
        let first = url.split(',').next().unwrap_or_default().trim();
        let rest = first
            .strip_prefix("http://")
            .ok_or_else(|| format!("schema.registry.url '{first}' must start with http://"))?;
        let (authority, path) =
            rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, String::new()));
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| format!("schema.registry.url '{first}' has a bad port"))?),
            None => (authority, 80),
        };
        Ok(Self {
            host: host.to_string(),
            port,
            base_path: path.trim_end_matches('/').to_string(),
            by_id: Mutex::default(),
            ids: Mutex::default(),
        })
    }

    /// The schema with `id`: (schema type, definition).
    pub fn schema_by_id(&self, id: u32) -> Result<(String, String), String> {
        if let Some(found) = self.by_id.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(found.clone());
        }
        let body = self.request("GET", &format!("/schemas/ids/{id}"), None)?;
        let schema =
            body["schema"].as_str().ok_or_else(|| format!("schema {id}: the registry's answer has no schema"))?;
        let kind = body["schemaType"].as_str().unwrap_or("AVRO").to_string();
        let found = (kind, schema.to_string());
        self.by_id.lock().unwrap_or_else(|p| p.into_inner()).insert(id, found.clone());
        Ok(found)
    }

    /// Registers `definition` under `subject` (or finds it); returns the id.
    pub fn register(&self, subject: &str, schema_type: &str, definition: &str) -> Result<u32, String> {
        let key = (subject.to_string(), definition.to_string());
        if let Some(id) = self.ids.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(*id);
        }
        let mut body = json!({ "schema": definition });
        if !schema_type.eq_ignore_ascii_case("AVRO") {
            body["schemaType"] = json!(schema_type.to_ascii_uppercase());
        }
        let answer = self.request("POST", &format!("/subjects/{subject}/versions"), Some(&body))?;
        let id = answer["id"]
            .as_u64()
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| format!("subject {subject}: the registry's answer has no id"))?;
        self.ids.lock().unwrap_or_else(|p| p.into_inner()).insert(key, id);
        self.by_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, (schema_type.to_string(), definition.to_string()));
        Ok(id)
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let target = format!("{}:{}", self.host, self.port);
        let addr = target
            .to_socket_addrs()
            .map_err(|e| format!("schema registry {target}: {e}"))?
            .next()
            .ok_or_else(|| format!("schema registry {target}: no address"))?;
        let mut stream =
            TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("schema registry {target}: {e}"))?;
        let _ = stream.set_read_timeout(Some(TIMEOUT));
        let payload = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {target}\r\nAccept: application/vnd.schemaregistry.v1+json, application/json\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            self.base_path,
            payload.len()
        );
        stream.write_all(request.as_bytes()).map_err(|e| format!("schema registry {target}: {e}"))?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).map_err(|e| format!("schema registry {target}: {e}"))?;
        let text = String::from_utf8_lossy(&response);
        let (head, body) =
            text.split_once("\r\n\r\n").ok_or_else(|| format!("schema registry {target}: bad response"))?;
        let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            dechunk(body)
        } else {
            body.to_string()
        };
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let message = json["message"].as_str().map(str::to_string).unwrap_or(body);
            return Err(format!("schema registry {method} {path}: HTTP {status}: {message}"));
        }
        Ok(json)
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot fake registry answering `answer` to the next request, returning the request.
    fn fake(answer: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap();
            let response = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}", answer.len());
            conn.write_all(response.as_bytes()).unwrap();
            String::from_utf8_lossy(&buf[..n]).to_string()
        });
        (url, handle)
    }

    #[test]
    fn looks_up_a_schema_once_and_caches_it() {
        let (url, server) = fake(r#"{"schema":"\"string\""}"#);
        let client = SchemaRegistryClient::new(&url).unwrap();
        assert_eq!(client.schema_by_id(7).unwrap(), ("AVRO".to_string(), "\"string\"".to_string()));
        assert!(server.join().unwrap().starts_with("GET /schemas/ids/7 HTTP/1.1"));
        // The server is gone: a second lookup must come from the cache.
        assert_eq!(client.schema_by_id(7).unwrap().1, "\"string\"");
    }

    #[test]
    fn registers_a_schema() {
        let (url, server) = fake(r#"{"id":42}"#);
        let client = SchemaRegistryClient::new(&url).unwrap();
        assert_eq!(client.register("orders-value", "AVRO", "\"long\"").unwrap(), 42);
        let request = server.join().unwrap();
        assert!(request.starts_with("POST /subjects/orders-value/versions"), "{request}");
        assert!(request.contains(r#"{"schema":"\"long\""}"#), "{request}");
    }

    #[test]
    fn refuses_urls_it_cannot_use() {
        assert!(SchemaRegistryClient::new("https://x:1").unwrap_err().contains("http://"));
        assert!(SchemaRegistryClient::new("http://x:port").unwrap_err().contains("bad port"));
    }
}
