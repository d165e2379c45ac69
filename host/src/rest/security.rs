//! Who may use the REST API: an optional HTTPS listener and optional HTTP basic auth, configured
//! with Kafka Connect's keys (`listeners=https://…`, `listeners.https.ssl.*`) and Spillway's users
//! file (`rest.basic.auth.users.file`, in the format of Connect's `PropertyFileLoginModule`).
//!
//! [`serve`] runs the listener with both applied; [`apply`] puts the credentials check on a router
//! (for in-process tests).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslVerifyMode, SslVersion};
use tokio::net::TcpListener;
use tokio_openssl::SslStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::cassandra::tls;
use crate::config::security::{Scoped, key_store, trusted_certificates};
use crate::config::{ConfigError, Settings, split_list};

/// Spillway's worker key naming the basic-auth users file.
pub const USERS_FILE_KEY: &str = "rest.basic.auth.users.file";
/// Connect's basic-auth REST extension; Spillway does its job with [`USERS_FILE_KEY`].
pub const BASIC_AUTH_EXTENSION: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";
/// Where an https listener's TLS keys live; without any key under it, the worker's `ssl.*` keys
/// are used instead (all or nothing, as in Connect).
pub const HTTPS_PREFIX: &str = "listeners.https.";
/// The TLS keys of an https listener (under [`HTTPS_PREFIX`], or the worker's own `ssl.*`).
pub const HTTPS_KEYS: &[&str] = &[
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.type",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.key.password",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.type",
    "ssl.truststore.certificates",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.cipher.suites",
];
/// Java-only TLS keys of an https listener: accepted, with no effect.
pub const HTTPS_INERT_KEYS: &[&str] = &[
    "ssl.protocol",
    "ssl.provider",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.endpoint.identification.algorithm",
];

const REALM_CHALLENGE: &str = "Basic realm=\"Spillway\"";
/// Connect's `JaasBasicAuthFilter` says this.
const REFUSED: &str = "User cannot access the resource.";
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The REST API's TLS and basic-auth settings, built from the worker's settings.
#[derive(Clone, Default)]
pub struct RestSecurity {
    tls: Option<SslAcceptor>,
    users: Option<Arc<Users>>,
}

impl std::fmt::Debug for RestSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestSecurity")
            .field("https", &self.tls.is_some())
            .field("users_file", &self.users.as_ref().map(|u| u.path.display().to_string()))
            .finish()
    }
}

impl RestSecurity {
    /// Plain HTTP, open to everyone (what a worker without security settings gets).
    pub fn none() -> Self {
        Self::default()
    }

    /// TLS when `listeners` names https listeners, with the key store and the rest from
    /// `listeners.https.ssl.*` (or, when no key has that prefix, the worker's `ssl.*`); basic auth
    /// when `rest.basic.auth.users.file` is set. Reads the key store, trust store and users file now,
    /// so every mistake is a [`ConfigError`] naming its key.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let tls = if https_listeners(s)? { Some(acceptor(&https_scope(s))?) } else { None };
        Ok(Self { tls, users: users(s)?.map(Arc::new) })
    }

    /// Whether the listener speaks HTTPS.
    pub fn is_https(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether requests need basic-auth credentials.
    pub fn requires_credentials(&self) -> bool {
        self.users.is_some()
    }
}

/// Whether the listeners are https (`true`) or http; a mix is refused, since the TLS settings
/// would apply to every listener.
fn https_listeners(s: &Settings) -> Result<bool, ConfigError> {
    let listeners = s.non_blank("listeners").map(split_list).unwrap_or_default();
    let https = listeners.iter().filter(|l| l.to_ascii_lowercase().starts_with("https://")).count();
    if https > 0 && https < listeners.len() {
        return Err(ConfigError::invalid(
            "listeners",
            "http and https listeners cannot be mixed: the https settings apply to every listener",
        ));
    }
    Ok(https > 0)
}

/// Connect's rule: the `listeners.https.` keys when there is any, else the worker's own `ssl.*`.
fn https_scope(s: &Settings) -> Scoped {
    let prefixed = s.0.keys().any(|k| k.starts_with(HTTPS_PREFIX));
    Scoped::prefixed(s, if prefixed { HTTPS_PREFIX } else { "" })
}

fn acceptor(s: &Scoped) -> Result<SslAcceptor, ConfigError> {
    let openssl =
        |key: String| move |e: openssl::error::ErrorStack| ConfigError::invalid(&key, format!("OpenSSL: {e}"));
    let mut builder =
        SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(openssl("listeners".into()))?;
    let Some(store) = key_store(s)? else {
        return Err(ConfigError::missing(
            format!("{HTTPS_PREFIX}ssl.keystore.location"),
            "an https listener needs a key store with the server's certificate and private key",
        ));
    };
    tls::use_identity(&mut builder, &store.key, store.identity)?;
    let client_auth = s.get("ssl.client.auth").map(str::to_ascii_lowercase);
    let verify = match client_auth.as_deref() {
        None | Some("none") => SslVerifyMode::NONE,
        Some("requested") => SslVerifyMode::PEER,
        Some("required") => SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
        Some(other) => {
            return Err(ConfigError::invalid(
                s.name("ssl.client.auth"),
                format!("'{other}' is not one of none, requested, required"),
            ));
        }
    };
    if verify != SslVerifyMode::NONE {
        match trusted_certificates(s)? {
            Some((key, certificates)) => {
                for certificate in &certificates {
                    builder.add_client_ca(certificate).map_err(openssl(key.clone()))?;
                }
                builder.set_cert_store(tls::trust_store(&key, certificates)?);
            }
            // Like Java's default trust store: the system's certificate authorities.
            None => builder.set_default_verify_paths().map_err(openssl(s.name("ssl.truststore.location")))?,
        }
        // Client certificates and session resumption need a session context.
        builder.set_session_id_context(b"spillway-rest").map_err(openssl(s.name("ssl.client.auth")))?;
    }
    builder.set_verify(verify);
    if let Some(suites) = s.get("ssl.cipher.suites") {
        tls::set_cipher_suites(&mut builder, &s.name("ssl.cipher.suites"), &split_list(suites))?;
    }
    if let Some(protocols) = s.get("ssl.enabled.protocols") {
        let key = s.name("ssl.enabled.protocols");
        let mut versions = Vec::new();
        for protocol in split_list(protocols) {
            versions.push(match protocol.as_str() {
                "TLSv1.3" => (3, SslVersion::TLS1_3),
                "TLSv1.2" => (2, SslVersion::TLS1_2),
                "TLSv1.1" => (1, SslVersion::TLS1_1),
                "TLSv1" => (0, SslVersion::TLS1),
                other => {
                    return Err(ConfigError::invalid(
                        &key,
                        format!("'{other}' is not one of TLSv1.3, TLSv1.2, TLSv1.1, TLSv1"),
                    ));
                }
            });
        }
        let (Some(min), Some(max)) = (versions.iter().min_by_key(|v| v.0), versions.iter().max_by_key(|v| v.0)) else {
            return Err(ConfigError::invalid(&key, "the list is empty"));
        };
        builder.set_min_proto_version(Some(min.1)).map_err(openssl(key.clone()))?;
        builder.set_max_proto_version(Some(max.1)).map_err(openssl(key.clone()))?;
    }
    Ok(builder.build())
}

/// The users file, when basic auth is on. Java REST extensions cannot run here: Connect's basic-auth
/// one is served by the users file, any other is refused rather than silently left out.
fn users(s: &Settings) -> Result<Option<Users>, ConfigError> {
    let extensions = s.non_blank("rest.extension.classes").map(split_list).unwrap_or_default();
    if let Some(other) = extensions.iter().find(|c| *c != BASIC_AUTH_EXTENSION) {
        return Err(ConfigError::invalid(
            "rest.extension.classes",
            format!(
                "'{other}' is a Java REST extension, which Spillway cannot run; remove it (for basic auth, set \
                 {USERS_FILE_KEY})"
            ),
        ));
    }
    match s.non_blank(USERS_FILE_KEY) {
        Some(path) => Users::open(PathBuf::from(path)).map(Some),
        None if !extensions.is_empty() => Err(ConfigError::missing(
            USERS_FILE_KEY,
            "rest.extension.classes names BasicAuthSecurityRestExtension, whose users Connect finds through a \
             JAAS file; Spillway does not read JAAS files: set rest.basic.auth.users.file to the users file of \
             its PropertyFileLoginModule (`username: password` per line)",
        )),
        None => Ok(None),
    }
}

type Digest = [u8; 32];
type Table = HashMap<String, Digest>;

/// The users file and what it held when last read; re-read when its modification time or size
/// changes, so users are added or removed without a restart.
struct Users {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

struct Loaded {
    stamp: Option<(SystemTime, u64)>,
    table: Arc<Table>,
}

impl Users {
    fn open(path: PathBuf) -> Result<Self, ConfigError> {
        let table = read_table(&path)
            .map_err(|reason| ConfigError::invalid(USERS_FILE_KEY, format!("{}: {reason}", path.display())))?;
        if table.is_empty() {
            return Err(ConfigError::invalid(
                USERS_FILE_KEY,
                format!("{} holds no users; add a `username: password` line", path.display()),
            ));
        }
        let loaded = Loaded { stamp: stamp(&path), table: Arc::new(table) };
        Ok(Self { path, loaded: Mutex::new(loaded) })
    }

    /// The users as the file holds them now. A file that cannot be read lets no one in (logged once
    /// per change), rather than keeping users that may have been removed.
    fn current(&self) -> Arc<Table> {
        let now = stamp(&self.path);
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if now != loaded.stamp {
            loaded.table = match now.map(|_| read_table(&self.path)) {
                Some(Ok(table)) => {
                    info!(path = %self.path.display(), users = table.len(), "REST users file re-read");
                    Arc::new(table)
                }
                Some(Err(reason)) => {
                    warn!(path = %self.path.display(), %reason, "cannot read the REST users file; refusing every request until it is fixed");
                    Arc::default()
                }
                None => {
                    warn!(path = %self.path.display(), "the REST users file is gone; refusing every request until it is back");
                    Arc::default()
                }
            };
            loaded.stamp = now;
        }
        loaded.table.clone()
    }

    /// `Ok` when the `Authorization` header names a user with the right password, else why not (for
    /// the debug log). Passwords are compared as SHA-256 digests in constant time, and an unknown
    /// user costs the same comparison.
    fn admits(&self, header: Option<&HeaderValue>) -> Result<(), &'static str> {
        let (user, password) = header.and_then(basic_credentials).ok_or("no basic-auth credentials")?;
        let table = self.current();
        let given = openssl::sha::sha256(password.as_bytes());
        let (expected, known) = table.get(&user).map_or(([0; 32], false), |d| (*d, true));
        if openssl::memcmp::eq(&given, &expected) && known { Ok(()) } else { Err("unknown user or wrong password") }
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// `username: password` (or `username=password`) per line, `#` comments: Java properties, as
/// Connect's `PropertyFileLoginModule` reads them. Errors never quote the file's text.
fn read_table(path: &Path) -> Result<Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    let entries = crate::config::properties::parse(&text)
        .map_err(|e| format!("line {} is not a `username: password` entry", e.line))?;
    Ok(entries.into_iter().map(|(user, password)| (user, openssl::sha::sha256(password.as_bytes()))).collect())
}

fn basic_credentials(header: &HeaderValue) -> Option<(String, String)> {
    let (scheme, encoded) = header.to_str().ok()?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (user, password) = String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.into(), p.into()))?;
    Some((user, password))
}

async fn require_user(State(users): State<Arc<Users>>, request: Request, next: Next) -> Response {
    match users.admits(request.headers().get(AUTHORIZATION)) {
        Ok(()) => next.run(request).await,
        Err(why) => {
            debug!(method = %request.method(), path = %request.uri().path(), why, "REST request refused");
            let body = axum::Json(serde_json::json!({"error_code": 401, "message": REFUSED}));
            (StatusCode::UNAUTHORIZED, [(WWW_AUTHENTICATE, REALM_CHALLENGE)], body).into_response()
        }
    }
}

/// `router` with basic auth on every path (the health check and unknown paths included) when
/// `security` has a users file; unchanged otherwise. [`serve`] applies it itself.
pub fn apply(router: Router, security: &RestSecurity) -> Router {
    match &security.users {
        Some(users) => router.layer(axum::middleware::from_fn_with_state(users.clone(), require_user)),
        None => router,
    }
}

/// Serves `router` on `listener` until `shutdown` fires, then lets in-flight requests finish:
/// plain HTTP/1.1, or HTTPS when `security` says so, with basic auth when it says so. A client that
/// fails the TLS handshake is logged at debug level and never stops the listener.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    security: &RestSecurity,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = apply(router, security);
    let Some(acceptor) = security.tls.clone() else {
        return axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await;
    };
    let connections = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning, as axum does.
                error!(error = %e, "REST listener cannot accept connections");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let (acceptor, router, watcher) = (acceptor.clone(), router.clone(), connections.watcher());
        tokio::spawn(async move {
            let mut stream = match Ssl::new(acceptor.context()).and_then(|ssl| SslStream::new(ssl, tcp)) {
                Ok(stream) => stream,
                Err(e) => return debug!(%peer, error = %e, "TLS session setup failed"),
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, Pin::new(&mut stream).accept()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => return debug!(%peer, "TLS handshake timed out"),
            }
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
            if let Err(e) = watcher.watch(connection).await {
                debug!(%peer, error = %e, "REST connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cassandra::tls::tests::{jks, self_signed};
    use axum::routing::get;
    use openssl::pkcs12::Pkcs12;
    use openssl::pkey::{PKey, Private};
    use openssl::ssl::SslConnector;
    use openssl::x509::X509;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tower::ServiceExt;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("spillway-rest-security-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).unwrap();
            path.to_str().unwrap().to_string()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_pairs(pairs)
    }

    fn p12(key: &PKey<Private>, cert: &X509, password: &str) -> Vec<u8> {
        Pkcs12::builder().name("rest").pkey(key).cert(cert).build2(password).unwrap().to_der().unwrap()
    }

    fn pem_keystore(key: &PKey<Private>, cert: &X509) -> Vec<u8> {
        let mut pem = key.private_key_to_pem_pkcs8().unwrap();
        pem.extend(cert.to_pem().unwrap());
        pem
    }

    fn app() -> Router {
        Router::new()
            .route("/", get(|| async { "hello" }))
            .route("/health", get(|| async { "healthy" }))
            .fallback(|| async { (StatusCode::NOT_FOUND, "nothing here") })
    }

    struct Server {
        addr: std::net::SocketAddr,
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<std::io::Result<()>>,
    }

    impl Server {
        async fn start(security: RestSecurity) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let shutdown = CancellationToken::new();
            let token = shutdown.clone();
            let task = tokio::spawn(async move { serve(listener, app(), &security, token).await });
            Self { addr, shutdown, task }
        }

        async fn stop(self) {
            self.shutdown.cancel();
            tokio::time::timeout(Duration::from_secs(10), self.task).await.unwrap().unwrap().unwrap();
        }
    }

    /// A TLS client that trusts `ca`, optionally presenting a client certificate.
    fn tls_client(ca: &X509, identity: Option<(&PKey<Private>, &X509)>) -> SslConnector {
        let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
        builder.cert_store_mut().add_cert(ca.clone()).unwrap();
        if let Some((key, cert)) = identity {
            builder.set_private_key(key).unwrap();
            builder.set_certificate(cert).unwrap();
        }
        builder.build()
    }

    /// One HTTP/1.1 request; the raw response (status line, headers, body), or what came back
    /// before the connection failed.
    async fn exchange(mut stream: impl AsyncRead + AsyncWrite + Unpin, path: &str, auth: Option<&str>) -> String {
        let auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).await.is_err() {
            return String::new();
        }
        let mut response = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
        String::from_utf8_lossy(&response).into_owned()
    }

    async fn https_get(
        addr: std::net::SocketAddr,
        client: &SslConnector,
        path: &str,
        auth: Option<&str>,
    ) -> Result<String, String> {
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let ssl = client.configure().unwrap().verify_hostname(false).into_ssl("localhost").unwrap();
        let mut stream = SslStream::new(ssl, tcp).unwrap();
        Pin::new(&mut stream).connect().await.map_err(|e| e.to_string())?;
        Ok(exchange(stream, path, auth).await)
    }

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
    }

    #[tokio::test]
    async fn https_from_pkcs12_and_pem_key_stores_and_plain_http_is_refused() {
        let dir = TempDir::new();
        let (key, cert) = self_signed("localhost");
        let client = tls_client(&cert, None);
        let stores = [
            ("PKCS12", dir.write("rest.p12", p12(&key, &cert, "changeit"))),
            ("PEM", dir.write("rest.pem", pem_keystore(&key, &cert))),
        ];
        for (kind, path) in stores {
            let security = RestSecurity::from_settings(&settings(&[
                ("listeners", "https://127.0.0.1:0"),
                ("listeners.https.ssl.keystore.location", &path),
                ("listeners.https.ssl.keystore.password", "changeit"),
                ("listeners.https.ssl.keystore.type", kind),
            ]))
            .unwrap();
            assert!(security.is_https() && !security.requires_credentials());
            let server = Server::start(security).await;
            let plain = exchange(tokio::net::TcpStream::connect(server.addr).await.unwrap(), "/", None).await;
            assert!(!plain.starts_with("HTTP/"), "{kind}: plain HTTP got an answer: {plain}");
            let response = https_get(server.addr, &client, "/", None).await.unwrap();
            assert!(response.starts_with("HTTP/1.1 200"), "{kind}: {response}");
            assert!(response.ends_with("hello"), "{kind}: {response}");
            server.stop().await;
        }
    }

    #[tokio::test]
    async fn un_prefixed_ssl_keys_are_the_fallback_and_mutual_tls_checks_the_client() {
        let dir = TempDir::new();
        let (key, cert) = self_signed("localhost");
        let (client_key, client_cert) = self_signed("client");
        let security = RestSecurity::from_settings(&settings(&[
            ("listeners", "https://127.0.0.1:0"),
            ("ssl.keystore.location", &dir.write("rest.p12", p12(&key, &cert, "pw"))),
            ("ssl.keystore.password", "pw"),
            ("ssl.truststore.location", &dir.write("clients.pem", client_cert.to_pem().unwrap())),
            ("ssl.truststore.type", "PEM"),
            ("ssl.client.auth", "required"),
        ]))
        .unwrap();
        let server = Server::start(security).await;
        let anonymous = https_get(server.addr, &tls_client(&cert, None), "/", None).await;
        assert!(!anonymous.as_deref().unwrap_or_default().starts_with("HTTP/"), "{anonymous:?}");
        let stranger = self_signed("stranger");
        let untrusted = https_get(server.addr, &tls_client(&cert, Some((&stranger.0, &stranger.1))), "/", None).await;
        assert!(!untrusted.as_deref().unwrap_or_default().starts_with("HTTP/"), "{untrusted:?}");
        let trusted = tls_client(&cert, Some((&client_key, &client_cert)));
        let response = https_get(server.addr, &trusted, "/", None).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        server.stop().await;
    }

    #[tokio::test]
    async fn basic_auth_over_https_on_every_path() {
        let dir = TempDir::new();
        let (key, cert) = self_signed("localhost");
        let users = dir
            .write("users.properties", "# Connect's PropertyFileLoginModule format\nalice: wonder land\nbob=builder\n");
        let security = RestSecurity::from_settings(&settings(&[
            ("listeners", "https://127.0.0.1:0"),
            ("listeners.https.ssl.keystore.location", &dir.write("rest.p12", p12(&key, &cert, "pw"))),
            ("listeners.https.ssl.keystore.password", "pw"),
            ("rest.extension.classes", BASIC_AUTH_EXTENSION),
            (USERS_FILE_KEY, &users),
        ]))
        .unwrap();
        assert!(security.requires_credentials());
        let server = Server::start(security).await;
        let client = tls_client(&cert, None);
        for path in ["/", "/health", "/no/such/path"] {
            for auth in
                [None, Some(basic("alice", "wrong")), Some(basic("mallory", "wonder land")), Some("Bearer x".into())]
            {
                let response = https_get(server.addr, &client, path, auth.as_deref()).await.unwrap();
                assert!(response.starts_with("HTTP/1.1 401"), "{path} {auth:?}: {response}");
                assert!(
                    response.to_ascii_lowercase().contains("www-authenticate: basic realm=\"spillway\""),
                    "{response}"
                );
                assert!(
                    response.ends_with(r#"{"error_code":401,"message":"User cannot access the resource."}"#),
                    "{response}"
                );
            }
        }
        let ok = https_get(server.addr, &client, "/", Some(&basic("alice", "wonder land"))).await.unwrap();
        assert!(ok.starts_with("HTTP/1.1 200") && ok.ends_with("hello"), "{ok}");
        let ok = https_get(server.addr, &client, "/health", Some(&basic("bob", "builder"))).await.unwrap();
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        server.stop().await;
    }

    #[tokio::test]
    async fn users_file_changes_apply_without_restart_and_plain_http_serves_too() {
        let dir = TempDir::new();
        let users = dir.write("users", "alice: one\n");
        let security = RestSecurity::from_settings(&settings(&[(USERS_FILE_KEY, &users)])).unwrap();
        assert!(!security.is_https());
        let router = apply(app(), &security);
        let status = |auth: String| {
            let router = router.clone();
            async move {
                let request = axum::http::Request::get("/").header(AUTHORIZATION, auth).body(axum::body::Body::empty());
                router.oneshot(request.unwrap()).await.unwrap().status()
            }
        };
        assert_eq!(status(basic("alice", "one")).await, StatusCode::OK);
        assert_eq!(status(basic("carol", "two")).await, StatusCode::UNAUTHORIZED);
        // A different size changes the stamp even within the file system's timestamp granularity.
        std::fs::write(&users, "alice: one\ncarol: two\n").unwrap();
        assert_eq!(status(basic("carol", "two")).await, StatusCode::OK);
        std::fs::remove_file(&users).unwrap();
        assert_eq!(status(basic("alice", "one")).await, StatusCode::UNAUTHORIZED, "a vanished file lets no one in");

        std::fs::write(&users, "alice: one\n").unwrap();
        let server = Server::start(security).await;
        let plain = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let response = exchange(plain, "/", Some(&basic("alice", "one"))).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        server.stop().await;
    }

    #[test]
    fn mistakes_are_config_errors_naming_the_key() {
        let dir = TempDir::new();
        let (key, cert) = self_signed("localhost");
        let jks_store = dir.write("rest.jks", jks(&cert.to_der().unwrap(), "changeit"));
        let p12_store = dir.write("rest.p12", p12(&key, &cert, "pw"));
        let (jks_store, p12_store) = (jks_store.as_str(), p12_store.as_str());
        let https = ("listeners", "https://127.0.0.1:0");
        for (pairs, key, needle) in [
            (
                vec![
                    https,
                    ("listeners.https.ssl.keystore.location", jks_store),
                    ("listeners.https.ssl.keystore.type", "JKS"),
                ],
                "listeners.https.ssl.keystore.location",
                "keytool -importkeystore",
            ),
            (
                vec![
                    https,
                    ("listeners.https.ssl.keystore.location", p12_store),
                    ("listeners.https.ssl.keystore.type", "BCFKS"),
                ],
                "listeners.https.ssl.keystore.type",
                "not supported",
            ),
            (
                vec![
                    https,
                    ("listeners.https.ssl.keystore.location", p12_store),
                    ("listeners.https.ssl.keystore.password", "no"),
                ],
                "listeners.https.ssl.keystore.location",
                "wrong password",
            ),
            (vec![https], "listeners.https.ssl.keystore.location", "key store"),
            (
                vec![
                    https,
                    ("ssl.keystore.location", p12_store),
                    ("ssl.keystore.password", "pw"),
                    ("ssl.client.auth", "maybe"),
                ],
                "ssl.client.auth",
                "requested",
            ),
            (vec![("listeners", "http://:8083,https://:8443")], "listeners", "mixed"),
            (vec![(USERS_FILE_KEY, "/nonexistent/users")], USERS_FILE_KEY, "cannot read"),
            (vec![("rest.extension.classes", BASIC_AUTH_EXTENSION)], USERS_FILE_KEY, "JAAS"),
            (vec![("rest.extension.classes", "com.example.Audit")], "rest.extension.classes", "cannot run"),
        ] {
            let error = RestSecurity::from_settings(&settings(&pairs)).unwrap_err().to_string();
            assert!(error.contains(&format!("'{key}'")) && error.contains(needle), "{pairs:?}: {error}");
        }
        let empty = dir.write("empty", "# nobody\n");
        let error = RestSecurity::from_settings(&settings(&[(USERS_FILE_KEY, &empty)])).unwrap_err();
        assert!(error.to_string().contains("holds no users"), "{error}");
    }

    #[test]
    fn credentials_parse_and_debug_output_holds_no_secret() {
        let header = |v: &str| HeaderValue::from_str(v).unwrap();
        assert_eq!(basic_credentials(&header(&basic("a", "b:c"))), Some(("a".into(), "b:c".into())));
        assert_eq!(basic_credentials(&header("basic YTpi")), Some(("a".into(), "b".into())));
        assert_eq!(basic_credentials(&header("Basic !!")), None);
        assert_eq!(basic_credentials(&header("Digest YTpi")), None);
        let dir = TempDir::new();
        let users = dir.write("users", "alice: hunter2\n");
        let security = RestSecurity::from_settings(&settings(&[(USERS_FILE_KEY, &users)])).unwrap();
        assert!(!format!("{security:?}").contains("hunter2"));
        assert!(format!("{:?}", RestSecurity::none()).contains("https: false"));
    }
}
