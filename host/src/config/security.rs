//! Security settings under Kafka's own key names: key and trust stores (`ssl.*`) read into OpenSSL
//! objects for the REST listener and the Kafka clients, and Kafka client security
//! (`security.protocol`, `ssl.*`, `sasl.*`) turned into librdkafka's settings, so a Connect worker's
//! file secures Spillway's clients unchanged.
//!
//! Stores are read when the configuration is validated, so a wrong path or password is reported at
//! startup, naming the key, rather than by the first connection.

use std::collections::BTreeMap;

use openssl::x509::X509;

use super::{ConfigError, Settings, is_secret_key, split_list};
use crate::cassandra::tls::{self, Identity, Material, Store};

/// Settings read under one or more prefixes, each key remembering the full name it was set under,
/// so errors name `listeners.https.ssl.keystore.location` or `consumer.sasl.jaas.config`.
#[derive(Debug)]
pub(crate) struct Scoped {
    settings: Settings,
    origin: BTreeMap<String, String>,
    default_prefix: String,
}

impl Scoped {
    /// The keys of `s` under `prefix`, the prefix removed.
    pub(crate) fn prefixed(s: &Settings, prefix: &str) -> Self {
        Self::layered(&[(prefix, &s.with_prefix(prefix))])
    }

    /// Layers of `(prefix, settings with the prefix removed)`; later layers override earlier ones.
    /// A key set in no layer is named with the first layer's prefix.
    pub(crate) fn layered(layers: &[(&str, &Settings)]) -> Self {
        let (mut settings, mut origin) = (BTreeMap::new(), BTreeMap::new());
        for (prefix, layer) in layers {
            for (key, value) in &layer.0 {
                settings.insert(key.clone(), value.clone());
                origin.insert(key.clone(), format!("{prefix}{key}"));
            }
        }
        let default_prefix = layers.first().map(|(p, _)| p.to_string()).unwrap_or_default();
        Self { settings: Settings(settings), origin, default_prefix }
    }

    /// The trimmed value, if set and not blank.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.settings.non_blank(key)
    }

    /// The full name of `key`, as the user wrote it.
    pub(crate) fn name(&self, key: &str) -> String {
        self.origin.get(key).cloned().unwrap_or_else(|| format!("{}{key}", self.default_prefix))
    }

    /// The full name of `key` under the prefix `beside` was set with: where a key missing alongside
    /// `beside` belongs.
    fn name_beside(&self, key: &str, beside: &str) -> String {
        match self.origin.get(beside).and_then(|full| full.strip_suffix(beside)) {
            Some(prefix) => format!("{prefix}{key}"),
            None => self.name(key),
        }
    }
}

/// A key store's identity (private key, certificate, chain) and the key that named it.
#[derive(Debug)]
pub(crate) struct KeyStore {
    /// The config key that named the store.
    pub(crate) key: String,
    /// What it holds.
    pub(crate) identity: Identity,
}

/// The key store of `ssl.keystore.location` (PKCS#12, or a PEM file with the private key and its
/// certificate chain), or given inline as PEM (`ssl.keystore.key` + `ssl.keystore.certificate.chain`).
/// `ssl.keystore.password` opens a PKCS#12 store, `ssl.key.password` an encrypted PEM key.
///
/// The file's contents decide how it is read: a store that `ssl.keystore.type` calls JKS but that
/// is PKCS#12 (what `keytool` writes since Java 9) is read as such; a real JKS store keeps its key in
/// a Java-only format and is refused with the `keytool` command that converts it.
pub(crate) fn key_store(s: &Scoped) -> Result<Option<KeyStore>, ConfigError> {
    check_store_type(s, "ssl.keystore.type", &["PKCS12", "JKS", "PEM"])?;
    let key_password = s.get("ssl.key.password");
    let location = s.get("ssl.keystore.location");
    let (inline_key, inline_chain) = (s.get("ssl.keystore.key"), s.get("ssl.keystore.certificate.chain"));
    if location.is_some() && (inline_key.is_some() || inline_chain.is_some()) {
        return Err(ConfigError::invalid(
            s.name("ssl.keystore.location"),
            "set either a key store file or the inline ssl.keystore.key and ssl.keystore.certificate.chain, not both",
        ));
    }
    let (key, identity) = match (location, inline_key, inline_chain) {
        (None, None, None) => return Ok(None),
        (Some(location), _, _) => {
            let key = s.name("ssl.keystore.location");
            let material = Material::parse(&key, location)?;
            let bytes = material.read(&key)?;
            let identity = if tls::is_pem(&bytes) {
                tls::pem_parts_identity((&key, &bytes), (&key, &bytes), key_password)?
            } else {
                let password = s.get("ssl.keystore.password").map(str::to_string);
                tls::key_store_identity(&Store { key: key.clone(), material, password })?
            };
            (key, identity)
        }
        (None, Some(private_key), Some(chain)) => {
            let (key_name, chain_name) = (s.name("ssl.keystore.key"), s.name("ssl.keystore.certificate.chain"));
            let identity = tls::pem_parts_identity(
                (&chain_name, chain.as_bytes()),
                (&key_name, private_key.as_bytes()),
                key_password,
            )?;
            (key_name, identity)
        }
        (None, Some(_), None) | (None, None, Some(_)) => {
            let set = if inline_key.is_some() { "ssl.keystore.key" } else { "ssl.keystore.certificate.chain" };
            return Err(ConfigError::invalid(
                s.name(set),
                "ssl.keystore.key and ssl.keystore.certificate.chain go together; set both",
            ));
        }
    };
    Ok(Some(KeyStore { key, identity }))
}

/// The certificates of the trust store of `ssl.truststore.location` (PKCS#12, JKS or PEM, told
/// apart by their contents; `ssl.truststore.password` opens it) or given inline as PEM
/// (`ssl.truststore.certificates`), with the key that named them.
pub(crate) fn trusted_certificates(s: &Scoped) -> Result<Option<(String, Vec<X509>)>, ConfigError> {
    check_store_type(s, "ssl.truststore.type", &["PKCS12", "JKS", "PEM"])?;
    match (s.get("ssl.truststore.location"), s.get("ssl.truststore.certificates")) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            s.name("ssl.truststore.location"),
            "set either a trust store file or the inline ssl.truststore.certificates, not both",
        )),
        (None, Some(pem)) => {
            let key = s.name("ssl.truststore.certificates");
            let certificates = X509::stack_from_pem(pem.as_bytes())
                .map_err(|e| ConfigError::invalid(&key, format!("not PEM certificates: {e}")))?;
            if certificates.is_empty() {
                return Err(ConfigError::invalid(&key, "holds no certificate"));
            }
            Ok(Some((key, certificates)))
        }
        (Some(location), None) => {
            let key = s.name("ssl.truststore.location");
            let material = Material::parse(&key, location)?;
            let password = s.get("ssl.truststore.password").map(str::to_string);
            let certificates = tls::trusted_certificates(&Store { key: key.clone(), material, password })?;
            Ok(Some((key, certificates)))
        }
    }
}

fn check_store_type(s: &Scoped, key: &str, supported: &[&str]) -> Result<(), ConfigError> {
    match s.get(key).map(str::to_ascii_uppercase) {
        Some(kind) if !supported.contains(&kind.as_str()) => Err(ConfigError::invalid(
            s.name(key),
            format!("'{kind}' stores are not supported; use {}", supported.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// Whether a worker key configures Kafka client security: Connect's `security.protocol`, `ssl.*` and
/// `sasl.*` (librdkafka's own `ssl.`/`sasl.` keys, such as `ssl.ca.location`, pass through).
pub fn is_kafka_security_key(key: &str) -> bool {
    key == "security.protocol" || key.starts_with("ssl.") || key.starts_with("sasl.")
}

/// Java client keys librdkafka has no counterpart for: accepted, and reported as having no effect.
pub const KAFKA_INERT_KEYS: &[(&str, &str)] = &[
    ("ssl.protocol", "librdkafka negotiates the highest TLS version both sides support"),
    ("ssl.enabled.protocols", "librdkafka negotiates the highest TLS version both sides support"),
    ("ssl.provider", "is Java-specific"),
    ("ssl.keymanager.algorithm", "is Java-specific"),
    ("ssl.trustmanager.algorithm", "is Java-specific"),
    ("ssl.secure.random.implementation", "is Java-specific"),
    ("ssl.engine.factory.class", "is Java-specific"),
    ("sasl.client.callback.handler.class", "is Java-specific"),
    ("sasl.login.", "is Java-specific"),
    ("sasl.kerberos.", "has no effect: only the PLAIN and SCRAM mechanisms are supported"),
    ("sasl.oauthbearer.", "has no effect: only the PLAIN and SCRAM mechanisms are supported"),
];

/// The Java client keys [`kafka_client_settings`] translates (`ssl.client.auth` is the REST
/// listener's, and dropped for clients).
pub const KAFKA_SECURITY_KEYS: &[&str] = &[
    "security.protocol",
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
    "ssl.endpoint.identification.algorithm",
    "ssl.cipher.suites",
    "ssl.client.auth",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.jaas.config",
];

const PROTOCOLS: &[&str] = &["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"];
const MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// librdkafka settings from Java-named client settings given as layers of `(prefix, settings with
/// the prefix removed)`, later layers overriding earlier ones (as `consumer.*` overrides the worker's
/// top-level keys). Security keys are translated; every other key passes through unchanged.
///
/// - `security.protocol` → the same (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL);
/// - key store (PKCS#12 or PEM) → `ssl.certificate.pem` + `ssl.key.pem`; trust store (PKCS#12, JKS
///   or PEM) → `ssl.ca.pem`; both read now;
/// - `ssl.endpoint.identification.algorithm` (`https`, or empty for none), `ssl.cipher.suites`
///   (IANA names become OpenSSL's);
/// - `sasl.mechanism` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and `sasl.jaas.config` (Kafka's
///   `PlainLoginModule`/`ScramLoginModule` with `username` and `password`) → `sasl.mechanism`,
///   `sasl.username`, `sasl.password`.
///
/// `complete` says the layers are all the client gets: then a SASL protocol without a mechanism or
/// credentials is refused here, and stores are read only when the protocol uses TLS. Java-only keys
/// ([`KAFKA_INERT_KEYS`]) are dropped with a warning pushed to `warnings`.
pub fn kafka_client_settings(
    layers: &[(&str, &Settings)],
    complete: bool,
    warnings: &mut Vec<String>,
) -> Result<Settings, ConfigError> {
    let s = Scoped::layered(layers);
    let mut out: BTreeMap<String, String> =
        s.settings.0.iter().filter(|(k, _)| !is_kafka_security_key(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut set = |key: &str, value: String| out.insert(key.to_string(), value);

    let protocol = match s.get("security.protocol") {
        None => None,
        Some(p) if PROTOCOLS.contains(&p.to_ascii_lowercase().as_str()) => Some(p.to_ascii_lowercase()),
        Some(p) => {
            return Err(ConfigError::invalid(
                s.name("security.protocol"),
                format!("'{p}' is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
            ));
        }
    };
    if let Some(p) = &protocol {
        set("security.protocol", p.clone());
    }
    let uses_tls = protocol.as_deref().is_some_and(|p| p.ends_with("ssl"));
    if uses_tls || !complete {
        if let Some(store) = key_store(&s)? {
            let (key, certificate, chain) = &store.identity;
            let openssl = |e: openssl::error::ErrorStack| ConfigError::invalid(&store.key, format!("OpenSSL: {e}"));
            let mut pem = certificate.to_pem().map_err(openssl)?;
            for c in chain {
                pem.extend(c.to_pem().map_err(openssl)?);
            }
            set("ssl.certificate.pem", String::from_utf8_lossy(&pem).into_owned());
            let key_pem = key.private_key_to_pem_pkcs8().map_err(openssl)?;
            set("ssl.key.pem", String::from_utf8_lossy(&key_pem).into_owned());
        }
        if let Some((key, certificates)) = trusted_certificates(&s)? {
            let mut pem = Vec::new();
            for c in certificates {
                pem.extend(c.to_pem().map_err(|e| ConfigError::invalid(&key, format!("OpenSSL: {e}")))?);
            }
            set("ssl.ca.pem", String::from_utf8_lossy(&pem).into_owned());
        }
    }
    if let Some(value) = s.settings.get("ssl.endpoint.identification.algorithm").map(str::trim) {
        let algorithm = match value.to_ascii_lowercase().as_str() {
            "" | "none" => "none",
            "https" => "https",
            _ => {
                return Err(ConfigError::invalid(
                    s.name("ssl.endpoint.identification.algorithm"),
                    format!("'{value}' is not supported; use https, or leave it empty to turn the check off"),
                ));
            }
        };
        set("ssl.endpoint.identification.algorithm", algorithm.to_string());
    }
    if let Some(suites) = s.get("ssl.cipher.suites") {
        let names = openssl_cipher_list(&s.name("ssl.cipher.suites"), &split_list(suites))?;
        if !names.is_empty() {
            set("ssl.cipher.suites", names.join(":"));
        }
    }
    // librdkafka's own key file (`ssl.key.location`) takes its password under the same name.
    if s.get("ssl.key.location").is_some()
        && let Some(password) = s.get("ssl.key.password")
    {
        set("ssl.key.password", password.to_string());
    }

    let mechanism = match s.get("sasl.mechanism").or(s.get("sasl.mechanisms")).map(str::to_ascii_uppercase) {
        None => None,
        Some(m) if MECHANISMS.contains(&m.as_str()) => Some(m),
        Some(m) => {
            let why = match m.as_str() {
                "GSSAPI" => "Kerberos is not supported (Spillway's Kafka client is built without Cyrus SASL)",
                "OAUTHBEARER" => "OAuth bearer tokens are not supported in this version",
                _ => "it is not a SASL mechanism Spillway knows",
            };
            return Err(ConfigError::invalid(
                s.name("sasl.mechanism"),
                format!("'{m}': {why}; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
            ));
        }
    };
    if let Some(m) = &mechanism {
        set("sasl.mechanism", m.clone());
    }
    if let Some(jaas) = s.get("sasl.jaas.config") {
        let (username, password) = jaas_credentials(&s.name("sasl.jaas.config"), jaas)?;
        set("sasl.username", username);
        set("sasl.password", password);
    }
    if complete && protocol.as_deref().is_some_and(|p| p.starts_with("sasl")) {
        let protocol = protocol.as_deref().unwrap_or_default().to_ascii_uppercase();
        if mechanism.is_none() {
            return Err(ConfigError::invalid(
                s.name_beside("sasl.mechanism", "security.protocol"),
                format!(
                    "security.protocol is {protocol} and no mechanism is set; Kafka's default, GSSAPI (Kerberos), \
                     is not supported: set PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                ),
            ));
        }
        if !out.contains_key("sasl.username") {
            return Err(ConfigError::missing(
                s.name_beside("sasl.jaas.config", "security.protocol"),
                format!(
                    "security.protocol is {protocol}: give the credentials as sasl.jaas.config=<PlainLoginModule or \
                     ScramLoginModule> required username=\"…\" password=\"…\"; (JAAS files are not read)"
                ),
            ));
        }
    }

    for (key, value) in &s.settings.0 {
        if !is_kafka_security_key(key) || KAFKA_SECURITY_KEYS.contains(&key.as_str()) {
            continue;
        }
        if let Some((_, why)) =
            KAFKA_INERT_KEYS.iter().find(|(k, _)| key == k || (k.ends_with('.') && key.starts_with(k)))
        {
            warnings.push(format!("Kafka client setting '{}' {why}", s.name(key)));
        } else {
            // librdkafka's own keys (`ssl.ca.location`, `sasl.username`…) pass through.
            out.insert(key.clone(), value.clone());
        }
    }
    let out = Settings(out);
    check_with_librdkafka(&s, &out)?;
    Ok(out)
}

/// Asks librdkafka whether it takes each security setting (unknown keys, bad values, features it was
/// built without), so a mistake shows at startup, naming the key.
fn check_with_librdkafka(s: &Scoped, settings: &Settings) -> Result<(), ConfigError> {
    for (key, value) in settings.0.iter().filter(|(k, _)| is_kafka_security_key(k)) {
        if let Err(error) = rdkafka::ClientConfig::new().set(key, value).create_native_config() {
            let reason = match error {
                _ if is_secret_key(key) => "librdkafka does not accept this setting".to_string(),
                rdkafka::error::KafkaError::ClientConfig(_, description, _, _) => description,
                other => other.to_string(),
            };
            return Err(ConfigError::invalid(s.name(key), format!("librdkafka: {reason}")));
        }
    }
    Ok(())
}

/// Java's cipher suite names (IANA: `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`) as OpenSSL's cipher
/// list for TLS 1.2 and below. TLS 1.3 suites are left out: librdkafka cannot restrict them, so
/// OpenSSL's defaults stay in force.
fn openssl_cipher_list(key: &str, suites: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut names = Vec::new();
    for suite in suites {
        if suite.starts_with("TLS_") && !suite.contains("_WITH_") {
            continue;
        }
        if suite.starts_with("TLS_") || suite.starts_with("SSL_") {
            let name = openssl::ssl::cipher_name(suite);
            if name == "(NONE)" {
                return Err(ConfigError::invalid(key, format!("'{suite}' is not a cipher suite OpenSSL knows")));
            }
            names.push(name.to_string());
        } else {
            names.push(suite.clone());
        }
    }
    Ok(names)
}

const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

/// The username and password of a client's `sasl.jaas.config`:
/// `<login module> required username="…" password="…";` where the module is Kafka's
/// `PlainLoginModule` or `ScramLoginModule`. Values may be quoted (with `\` escapes) or bare words.
/// Errors name `key` and never repeat a value.
pub fn jaas_credentials(key: &str, text: &str) -> Result<(String, String), ConfigError> {
    let invalid = |reason: &str| ConfigError::invalid(key, reason.to_string());
    let mut chars = text.trim().chars().peekable();
    let word = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut word = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != ';' && *c != '=') {
            word.push(c);
        }
        word
    };
    let module = word(&mut chars);
    let flag = word(&mut chars).to_ascii_lowercase();
    if module.is_empty() || !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
        return Err(invalid("expected `<login module class> required username=\"…\" password=\"…\";` (JAAS syntax)"));
    }
    let mut options = BTreeMap::new();
    loop {
        let name = word(&mut chars);
        if name.is_empty() {
            break;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            // Not naming the option: a password with a blank in it would show its second half.
            return Err(invalid("an option has no `=value` (quote values that hold blanks)"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    None => return Err(invalid(&format!("the quoted value of '{name}' is not closed"))),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some('t') => value.push('\t'),
                        Some('r') => value.push('\r'),
                        Some(c) => value.push(c),
                        None => return Err(invalid(&format!("the quoted value of '{name}' is not closed"))),
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != ';') {
                value.push(c);
            }
        }
        options.insert(name, value);
    }
    while chars.next_if(|c| c.is_whitespace() || *c == ';').is_some() {}
    if chars.next().is_some() {
        return Err(invalid("a Kafka client takes exactly one login module; remove the others"));
    }
    let known = [PLAIN_LOGIN_MODULE, SCRAM_LOGIN_MODULE];
    if !known.contains(&module.as_str()) {
        return Err(invalid(&format!(
            "login module '{module}' is not supported: use {PLAIN_LOGIN_MODULE} or {SCRAM_LOGIN_MODULE} \
             with username and password"
        )));
    }
    if options.get("tokenauth").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(invalid("SCRAM delegation tokens (tokenauth=true) are not supported"));
    }
    match (options.remove("username"), options.remove("password")) {
        (Some(username), Some(password)) if !username.is_empty() => Ok((username, password)),
        _ => Err(invalid("the login module needs username=\"…\" and password=\"…\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cassandra::tls::tests::{jks, self_signed};
    use openssl::pkcs12::Pkcs12;

    fn layer(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_pairs(pairs)
    }

    fn client(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        kafka_client_settings(&[("", &layer(pairs))], true, &mut Vec::new())
    }

    const PLAIN: &str =
        r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cr\"et";"#;

    #[test]
    fn jaas_plain_and_scram_give_username_and_password() {
        assert_eq!(jaas_credentials("k", PLAIN).unwrap(), ("alice".into(), "s3cr\"et".into()));
        let scram =
            "org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=bob\n  password=\"p w\"";
        assert_eq!(jaas_credentials("k", scram).unwrap(), ("bob".into(), "p w".into()));
    }

    #[test]
    fn jaas_errors_name_the_key_and_never_the_password() {
        let twice = format!("{PLAIN} {PLAIN}");
        for (text, needle) in [
            ("com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;", "not supported"),
            ("org.apache.kafka.common.security.plain.PlainLoginModule username=\"a\";", "JAAS syntax"),
            ("org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\";", "password"),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\" password=\"hunter2",
                "not closed",
            ),
            (
                "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"a\" password=\"hunter2\" tokenauth=true;",
                "tokenauth",
            ),
            (twice.as_str(), "exactly one"),
            (
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=a password=hun ter2;",
                "quote values",
            ),
        ] {
            let error = jaas_credentials("consumer.sasl.jaas.config", text).unwrap_err().to_string();
            assert!(error.contains("consumer.sasl.jaas.config") && error.contains(needle), "{text}: {error}");
            assert!(!error.contains("hunter2") && !error.contains("ter2") && !error.contains("s3cr"), "{error}");
        }
    }

    #[test]
    fn sasl_settings_become_librdkafka_settings() {
        let out = client(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "scram-sha-512"),
            ("sasl.jaas.config", PLAIN),
            ("ssl.keymanager.algorithm", "SunX509"),
        ])
        .unwrap();
        assert_eq!(out.get("security.protocol"), Some("sasl_plaintext"));
        assert_eq!(out.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(out.get("sasl.username"), Some("alice"));
        assert_eq!(out.get("sasl.password"), Some("s3cr\"et"));
        assert!(out.get("sasl.jaas.config").is_none() && out.get("ssl.keymanager.algorithm").is_none());
        assert!(!format!("{out:?}").contains("s3cr"), "passwords stay out of Debug output");
    }

    #[test]
    fn sasl_mistakes_are_config_errors_naming_the_key() {
        for (pairs, needle) in [
            (&[("security.protocol", "SASL_SSL"), ("sasl.jaas.config", PLAIN)][..], "'sasl.mechanism'"),
            (&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "PLAIN")][..], "'sasl.jaas.config'"),
            (&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "GSSAPI")][..], "Kerberos"),
            (&[("sasl.mechanism", "OAUTHBEARER")][..], "OAuth"),
            (&[("security.protocol", "TLS")][..], "'security.protocol'"),
            (&[("ssl.endpoint.identification.algorithm", "ldap")][..], "ssl.endpoint.identification.algorithm"),
        ] {
            let error = client(pairs).unwrap_err().to_string();
            assert!(error.contains(needle), "{pairs:?}: {error}");
        }
    }

    #[test]
    fn consumer_layer_overrides_the_worker_and_errors_name_the_prefixed_key() {
        let top = layer(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "PLAIN"), ("sasl.jaas.config", PLAIN)]);
        let consumer = layer(&[("fetch.min.bytes", "10"), ("sasl.mechanism", "SCRAM-SHA-256")]);
        let out = kafka_client_settings(&[("", &top), ("consumer.", &consumer)], true, &mut Vec::new()).unwrap();
        assert_eq!(out.get("sasl.mechanism"), Some("SCRAM-SHA-256"));
        assert_eq!(out.get("sasl.username"), Some("alice"));
        assert_eq!(out.get("fetch.min.bytes"), Some("10"));
        let bad = layer(&[("sasl.jaas.config", "nope")]);
        let error = kafka_client_settings(&[("", &top), ("consumer.", &bad)], true, &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("'consumer.sasl.jaas.config'"), "{error}");
    }

    #[test]
    fn java_stores_become_pem_for_librdkafka_and_jks_trust_stores_are_read() {
        let dir = std::env::temp_dir().join(format!("spillway-kafka-ssl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (key, cert) = self_signed("client");
        let p12 = Pkcs12::builder().name("client").pkey(&key).cert(&cert).build2("pw").unwrap();
        std::fs::write(dir.join("client.p12"), p12.to_der().unwrap()).unwrap();
        std::fs::write(dir.join("trust.jks"), jks(&cert.to_der().unwrap(), "changeit")).unwrap();
        let (keystore, truststore) = (dir.join("client.p12"), dir.join("trust.jks"));
        let mut warnings = Vec::new();
        let out = kafka_client_settings(
            &[(
                "",
                &layer(&[
                    ("security.protocol", "SSL"),
                    ("ssl.keystore.location", keystore.to_str().unwrap()),
                    ("ssl.keystore.password", "pw"),
                    ("ssl.keystore.type", "PKCS12"),
                    ("ssl.truststore.location", truststore.to_str().unwrap()),
                    ("ssl.truststore.password", "changeit"),
                    ("ssl.truststore.type", "JKS"),
                    ("ssl.endpoint.identification.algorithm", ""),
                    ("ssl.enabled.protocols", "TLSv1.3"),
                    ("ssl.client.auth", "required"),
                    ("ssl.ca.location", "/etc/ssl/certs"),
                ]),
            )],
            true,
            &mut warnings,
        )
        .unwrap();
        let cert_pem = String::from_utf8(cert.to_pem().unwrap()).unwrap();
        assert_eq!(out.get("ssl.ca.pem"), Some(cert_pem.as_str()));
        assert_eq!(out.get("ssl.certificate.pem"), Some(cert_pem.as_str()));
        assert!(out.get("ssl.key.pem").is_some_and(|k| k.contains("PRIVATE KEY")));
        assert_eq!(out.get("ssl.endpoint.identification.algorithm"), Some("none"));
        assert_eq!(out.get("ssl.ca.location"), Some("/etc/ssl/certs"), "librdkafka's own keys pass through");
        for gone in ["ssl.keystore.location", "ssl.truststore.location", "ssl.client.auth", "ssl.enabled.protocols"] {
            assert!(out.get(gone).is_none(), "{gone}");
        }
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("ssl.enabled.protocols"));
        let wrong = client(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", truststore.to_str().unwrap()),
            ("ssl.truststore.password", "wrong"),
        ])
        .unwrap_err()
        .to_string();
        assert!(wrong.contains("'ssl.truststore.location'") && wrong.contains("password"), "{wrong}");
        // Stores that a plaintext client never uses are not read.
        assert!(client(&[("ssl.truststore.location", "/nonexistent")]).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn librdkafka_refuses_what_it_does_not_know() {
        let error = client(&[("ssl.no.such.thing", "1")]).unwrap_err().to_string();
        assert!(error.contains("'ssl.no.such.thing'") && error.contains("librdkafka"), "{error}");
    }
}
