//! TLS to Cassandra with the stores Java users already have: a trust store in PKCS#12, JKS or PEM,
//! a key store in PKCS#12 (or a PEM certificate chain and private key), read into an OpenSSL
//! context for the driver. Every node's certificate is checked against the trust store and, unless
//! hostname verification is turned off, against the node's address.
//!
//! Files may be given inline as `base64:<contents>` (the DataStax connector's convention).

use std::fmt;
use std::path::PathBuf;

use base64::Engine;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslConnector, SslConnectorBuilder, SslContextBuilder, SslMethod, SslVerifyMode};
use openssl::x509::X509;
use openssl::x509::store::{X509Store, X509StoreBuilder};

use crate::config::ConfigError;

/// Where a store or PEM file comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Material {
    /// A file.
    File(PathBuf),
    /// The contents themselves (`base64:…`).
    Inline(Vec<u8>),
}

impl Material {
    /// A path, or `base64:` followed by the contents.
    pub fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        match value.strip_prefix("base64:") {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map(Self::Inline)
                .map_err(|e| ConfigError::invalid(key, format!("the base64: contents do not decode: {e}"))),
            None => Ok(Self::File(PathBuf::from(value.trim()))),
        }
    }

    /// The bytes; an unreadable file is an error naming `key`.
    pub(crate) fn read(&self, key: &str) -> Result<Vec<u8>, ConfigError> {
        match self {
            Self::Inline(bytes) => Ok(bytes.clone()),
            Self::File(path) => std::fs::read(path)
                .map_err(|e| ConfigError::invalid(key, format!("cannot read {}: {e}", path.display()))),
        }
    }
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Inline(bytes) => write!(f, "<{} inline bytes>", bytes.len()),
        }
    }
}

/// A key or trust store: its config key (for errors), where it is, and its password.
#[derive(Clone, PartialEq, Eq)]
pub struct Store {
    /// The config key that named it.
    pub key: String,
    /// Where it is.
    pub material: Material,
    /// Its password (integrity and, for PKCS#12, encryption).
    pub password: Option<String>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let password = self.password.as_ref().map(|_| "****");
        f.debug_struct("Store")
            .field("key", &self.key)
            .field("material", &self.material)
            .field("password", &password)
            .finish()
    }
}

/// A PEM file named by a config key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pem {
    /// The config key that named it.
    pub key: String,
    /// Where it is.
    pub material: Material,
}

/// TLS settings, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Certificates to trust; the system's when absent.
    pub truststore: Option<Store>,
    /// The client certificate and key, for clusters that require client authentication.
    pub keystore: Option<Store>,
    /// Client certificate chain (PEM), with `private_key`, instead of a key store.
    pub cert_chain: Option<Pem>,
    /// Client private key (PEM, unencrypted PKCS#8 or traditional).
    pub private_key: Option<Pem>,
    /// Check each node's certificate against its address.
    pub hostname_verification: bool,
    /// The config key and the allowed cipher suites (IANA or OpenSSL names); OpenSSL's defaults
    /// when empty.
    pub cipher_suites: Option<(String, Vec<String>)>,
}

impl TlsSettings {
    /// TLS with the system's trust store, hostname verification on.
    pub fn new() -> Self {
        Self {
            truststore: None,
            keystore: None,
            cert_chain: None,
            private_key: None,
            hostname_verification: true,
            cipher_suites: None,
        }
    }

    /// Reads every file and builds the driver's TLS context. Errors name the config key and say
    /// what is wrong (unreadable, wrong password, not a store, no certificate…).
    pub fn connector(&self) -> Result<SslConnectorBuilder, ConfigError> {
        fn openssl(key: &str) -> impl Fn(openssl::error::ErrorStack) -> ConfigError + '_ {
            move |e| ConfigError::invalid(key, format!("OpenSSL: {e}"))
        }
        let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(openssl("TLS"))?;
        if let Some(store) = &self.truststore {
            // Like a Java trust store: these certificates, not the system's, are trusted.
            builder.set_cert_store(trust_store(&store.key, trusted_certificates(store)?)?);
        }
        let identity = match (&self.keystore, &self.cert_chain, &self.private_key) {
            (Some(store), _, _) => Some((store.key.as_str(), key_store_identity(store)?)),
            (None, Some(chain), Some(key)) => Some((chain.key.as_str(), pem_identity(chain, key)?)),
            (None, Some(only), None) | (None, None, Some(only)) => {
                return Err(ConfigError::invalid(
                    &only.key,
                    "a client certificate chain and a private key go together; set both",
                ));
            }
            (None, None, None) => None,
        };
        if let Some((config_key, identity)) = identity {
            use_identity(&mut builder, config_key, identity)?;
        }
        if let Some((key, suites)) = &self.cipher_suites {
            set_cipher_suites(&mut builder, key, suites)?;
        }
        if !self.hostname_verification {
            // The driver asks OpenSSL to match each node's certificate to its IP address; with
            // verification off, that one check (and only it) is waived.
            const HOSTNAME_MISMATCH: i32 = 62;
            const IP_ADDRESS_MISMATCH: i32 = 64;
            builder.set_verify_callback(SslVerifyMode::PEER, |ok, ctx| {
                ok || matches!(ctx.error().as_raw(), HOSTNAME_MISMATCH | IP_ADDRESS_MISMATCH)
            });
        }
        Ok(builder)
    }
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self::new()
    }
}

const JKS_MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];
const JCEKS_MAGIC: [u8; 4] = [0xCE, 0xCE, 0xCE, 0xCE];

/// Whether the bytes are PEM text (rather than a binary store).
pub(crate) fn is_pem(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN")
}

/// The `keytool` command that converts a JKS store into PKCS#12.
pub(crate) fn convert_hint(store: &Store) -> String {
    let path = match &store.material {
        Material::File(p) => p.display().to_string(),
        Material::Inline(_) => "store.jks".into(),
    };
    format!("keytool -importkeystore -srckeystore {path} -destkeystore {path}.p12 -deststoretype PKCS12")
}

/// The certificates of a trust store: JKS trusted-certificate entries, every certificate of a
/// PKCS#12 file, or every certificate of a PEM file.
pub(crate) fn trusted_certificates(store: &Store) -> Result<Vec<X509>, ConfigError> {
    let bytes = store.material.read(&store.key)?;
    let invalid = |reason: String| ConfigError::invalid(&store.key, reason);
    let certificates = if bytes.starts_with(&JKS_MAGIC) {
        jks_trusted_certificates(&bytes, store.password.as_deref())
            .map_err(|e| invalid(format!("not a readable JKS trust store: {e}")))?
            .iter()
            .map(|der| X509::from_der(der).map_err(|e| invalid(format!("a certificate in the JKS store: {e}"))))
            .collect::<Result<Vec<_>, _>>()?
    } else if bytes.starts_with(&JCEKS_MAGIC) {
        return Err(invalid(format!("JCEKS stores are not supported; convert it: {}", convert_hint(store))));
    } else if is_pem(&bytes) {
        X509::stack_from_pem(&bytes).map_err(|e| invalid(format!("not a PEM certificate file: {e}")))?
    } else {
        let parsed = Pkcs12::from_der(&bytes)
            .map_err(|e| invalid(format!("not a PKCS#12, JKS or PEM trust store: {e}")))?
            .parse2(store.password.as_deref().unwrap_or(""))
            .map_err(|e| invalid(format!("cannot open the PKCS#12 store (wrong password?): {e}")))?;
        parsed.cert.into_iter().chain(parsed.ca.into_iter().flatten()).collect()
    };
    if certificates.is_empty() {
        return Err(invalid("the trust store holds no certificate".into()));
    }
    Ok(certificates)
}

/// Certificates as an OpenSSL store (errors name `key`).
pub(crate) fn trust_store(key: &str, certificates: Vec<X509>) -> Result<X509Store, ConfigError> {
    let openssl = |e: openssl::error::ErrorStack| ConfigError::invalid(key, format!("OpenSSL: {e}"));
    let mut trusted = X509StoreBuilder::new().map_err(openssl)?;
    for certificate in certificates {
        trusted.add_cert(certificate).map_err(openssl)?;
    }
    Ok(trusted.build())
}

/// A private key, its certificate and the rest of the chain.
pub(crate) type Identity = (PKey<Private>, X509, Vec<X509>);

/// Presents `identity` (named by `config_key` in errors) on every connection of `builder`.
pub(crate) fn use_identity(
    builder: &mut SslContextBuilder,
    config_key: &str,
    (key, certificate, chain): Identity,
) -> Result<(), ConfigError> {
    let openssl = |e: openssl::error::ErrorStack| ConfigError::invalid(config_key, format!("OpenSSL: {e}"));
    builder.set_private_key(&key).map_err(openssl)?;
    builder.set_certificate(&certificate).map_err(openssl)?;
    for c in chain {
        builder.add_extra_chain_cert(c).map_err(openssl)?;
    }
    builder
        .check_private_key()
        .map_err(|e| ConfigError::invalid(config_key, format!("the private key does not match the certificate: {e}")))
}

/// The private key, certificate and chain of a PKCS#12 key store.
pub(crate) fn key_store_identity(store: &Store) -> Result<Identity, ConfigError> {
    let bytes = store.material.read(&store.key)?;
    let invalid = |reason: String| ConfigError::invalid(&store.key, reason);
    if bytes.starts_with(&JKS_MAGIC) || bytes.starts_with(&JCEKS_MAGIC) {
        return Err(invalid(format!(
            "a JKS key store keeps its private key in a Java-only format; convert it to PKCS#12: {}",
            convert_hint(store)
        )));
    }
    let parsed = Pkcs12::from_der(&bytes)
        .map_err(|e| invalid(format!("not a PKCS#12 key store: {e}")))?
        .parse2(store.password.as_deref().unwrap_or(""))
        .map_err(|e| invalid(format!("cannot open the PKCS#12 store (wrong password?): {e}")))?;
    let (Some(key), Some(certificate)) = (parsed.pkey, parsed.cert) else {
        return Err(invalid("the key store holds no private key with its certificate".into()));
    };
    Ok((key, certificate, parsed.ca.into_iter().flatten().collect()))
}

fn pem_identity(chain: &Pem, key: &Pem) -> Result<Identity, ConfigError> {
    pem_parts_identity((&chain.key, &chain.material.read(&chain.key)?), (&key.key, &key.material.read(&key.key)?), None)
}

/// An identity from PEM text: a certificate chain (leaf first) and a private key, each with the
/// config key that named it; the two may be the same file. The key may be encrypted (PKCS#8 or
/// traditional) when `key_password` is given.
pub(crate) fn pem_parts_identity(
    (chain_key, chain): (&str, &[u8]),
    (key_key, key): (&str, &[u8]),
    key_password: Option<&str>,
) -> Result<Identity, ConfigError> {
    let mut certificates = X509::stack_from_pem(chain)
        .map_err(|e| ConfigError::invalid(chain_key, format!("not a PEM certificate chain: {e}")))?;
    if certificates.is_empty() {
        return Err(ConfigError::invalid(chain_key, "the PEM file holds no certificate"));
    }
    let private_key = match key_password {
        None => PKey::private_key_from_pem(key)
            .map_err(|e| ConfigError::invalid(key_key, format!("not an unencrypted PEM private key: {e}")))?,
        Some(password) => PKey::private_key_from_pem_passphrase(key, password.as_bytes()).map_err(|e| {
            ConfigError::invalid(key_key, format!("not a PEM private key this password opens (wrong password?): {e}"))
        })?,
    };
    let leaf = certificates.remove(0);
    Ok((private_key, leaf, certificates))
}

/// Cipher suites by IANA name (as Java and the peers' configs spell them: `TLS_ECDHE_RSA_WITH_…`,
/// `TLS_AES_128_GCM_SHA256`) or by OpenSSL name.
pub(crate) fn set_cipher_suites(
    builder: &mut SslContextBuilder,
    key: &str,
    suites: &[String],
) -> Result<(), ConfigError> {
    let (mut tls12, mut tls13) = (Vec::new(), Vec::new());
    for suite in suites {
        if suite.starts_with("TLS_") && !suite.contains("_WITH_") {
            tls13.push(suite.as_str());
        } else if suite.starts_with("TLS_") || suite.starts_with("SSL_") {
            let name = openssl::ssl::cipher_name(suite);
            if name == "(NONE)" {
                return Err(ConfigError::invalid(key, format!("'{suite}' is not a cipher suite OpenSSL knows")));
            }
            tls12.push(name);
        } else {
            tls12.push(suite.as_str());
        }
    }
    let refused = |e: openssl::error::ErrorStack| ConfigError::invalid(key, format!("no usable cipher suite: {e}"));
    // An empty list would disable that protocol version's suites entirely: leave its defaults.
    if !tls12.is_empty() {
        builder.set_cipher_list(&tls12.join(":")).map_err(refused)?;
    }
    if !tls13.is_empty() {
        builder.set_ciphersuites(&tls13.join(":")).map_err(refused)?;
    }
    Ok(())
}

/// The DER certificates of a JKS store's trusted-certificate entries. With a password, the store's
/// integrity digest is checked as Java's `keytool` does.
fn jks_trusted_certificates(bytes: &[u8], password: Option<&str>) -> Result<Vec<Vec<u8>>, String> {
    struct Reader<'a> {
        bytes: &'a [u8],
        at: usize,
    }
    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or("truncated")?;
            let out = &self.bytes[self.at..end];
            self.at = end;
            Ok(out)
        }
        fn u16(&mut self) -> Result<usize, String> {
            Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")) as usize)
        }
        fn u32(&mut self) -> Result<usize, String> {
            Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")) as usize)
        }
        fn utf(&mut self) -> Result<&'a [u8], String> {
            let n = self.u16()?;
            self.take(n)
        }
    }
    let mut r = Reader { bytes, at: 4 };
    let version = r.u32()?;
    if version != 1 && version != 2 {
        return Err(format!("unknown JKS version {version}"));
    }
    let count = r.u32()?;
    let mut certificates = Vec::new();
    for _ in 0..count {
        let tag = r.u32()?;
        r.utf()?; // alias
        r.take(8)?; // creation time
        match tag {
            1 => {
                let key_len = r.u32()?;
                r.take(key_len)?;
                for _ in 0..r.u32()? {
                    if version == 2 {
                        r.utf()?;
                    }
                    let n = r.u32()?;
                    r.take(n)?;
                }
            }
            2 => {
                if version == 2 {
                    r.utf()?; // certificate type, "X.509"
                }
                let n = r.u32()?;
                certificates.push(r.take(n)?.to_vec());
            }
            other => return Err(format!("unknown entry tag {other}")),
        }
    }
    let body_end = r.at;
    let digest = r.take(20)?;
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        let mut sha1 = openssl::sha::Sha1::new();
        let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
        sha1.update(&utf16);
        sha1.update(b"Mighty Aphrodite");
        sha1.update(&bytes[..body_end]);
        if sha1.finish() != digest {
            return Err("the password is wrong or the file is corrupt (integrity check failed)".into());
        }
    }
    Ok(certificates)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::rsa::Rsa;
    use openssl::x509::X509NameBuilder;

    /// A throwaway self-signed certificate and its key.
    pub(crate) fn self_signed(cn: &str) -> (PKey<Private>, X509) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap()).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (key, b.build())
    }

    /// A JKS trust store with one trusted-certificate entry, written as keytool does.
    pub(crate) fn jks(der: &[u8], password: &str) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&JKS_MAGIC);
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(&2u16.to_be_bytes());
        out.extend_from_slice(b"ca");
        out.extend_from_slice(&0u64.to_be_bytes());
        out.extend_from_slice(&5u16.to_be_bytes());
        out.extend_from_slice(b"X.509");
        out.extend_from_slice(&(der.len() as u32).to_be_bytes());
        out.extend_from_slice(der);
        let mut sha1 = openssl::sha::Sha1::new();
        let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
        sha1.update(&utf16);
        sha1.update(b"Mighty Aphrodite");
        sha1.update(&out);
        out.extend_from_slice(&sha1.finish());
        out
    }

    fn store(bytes: Vec<u8>, password: Option<&str>) -> Store {
        Store {
            key: "ssl.truststore.path".into(),
            material: Material::Inline(bytes),
            password: password.map(Into::into),
        }
    }

    #[test]
    fn trust_stores_in_jks_pkcs12_and_pem_give_their_certificates() {
        let (key, cert) = self_signed("cassandra");
        let der = cert.to_der().unwrap();
        let from_jks = trusted_certificates(&store(jks(&der, "changeit"), Some("changeit"))).unwrap();
        assert_eq!(from_jks[0].to_der().unwrap(), der);
        let p12 = Pkcs12::builder().name("node").pkey(&key).cert(&cert).build2("secret").unwrap().to_der().unwrap();
        let from_p12 = trusted_certificates(&store(p12, Some("secret"))).unwrap();
        assert_eq!(from_p12[0].to_der().unwrap(), der);
        let from_pem = trusted_certificates(&store(cert.to_pem().unwrap(), None)).unwrap();
        assert_eq!(from_pem[0].to_der().unwrap(), der);
    }

    #[test]
    fn store_errors_name_the_key_and_the_cause() {
        let (key, cert) = self_signed("cassandra");
        let wrong = trusted_certificates(&store(jks(&cert.to_der().unwrap(), "changeit"), Some("nope"))).unwrap_err();
        assert!(wrong.to_string().contains("ssl.truststore.path") && wrong.to_string().contains("password is wrong"));
        let garbage = trusted_certificates(&store(b"hello".to_vec(), None)).unwrap_err().to_string();
        assert!(garbage.contains("not a PKCS#12, JKS or PEM trust store"), "{garbage}");
        let missing = Store { key: "k".into(), material: Material::File("/nonexistent/ts.p12".into()), password: None };
        assert!(trusted_certificates(&missing).unwrap_err().to_string().contains("cannot read /nonexistent/ts.p12"));
        let p12 = Pkcs12::builder().name("node").pkey(&key).cert(&cert).build2("secret").unwrap().to_der().unwrap();
        let bad_password = key_store_identity(&store(p12, Some("wrong"))).unwrap_err().to_string();
        assert!(bad_password.contains("wrong password"), "{bad_password}");
        let jks_key_store = key_store_identity(&store(jks(&cert.to_der().unwrap(), "x"), None)).unwrap_err();
        assert!(jks_key_store.to_string().contains("keytool -importkeystore"), "{jks_key_store}");
    }

    #[test]
    fn a_full_context_builds_from_a_key_store_and_cipher_suites() {
        let (key, cert) = self_signed("client");
        let p12 = Pkcs12::builder().name("client").pkey(&key).cert(&cert).build2("pw").unwrap().to_der().unwrap();
        let mut settings = TlsSettings::new();
        settings.truststore = Some(store(cert.to_pem().unwrap(), None));
        settings.keystore = Some(Store { key: "ssl.keystore.path".into(), ..store(p12, Some("pw")) });
        settings.cipher_suites = Some((
            "ssl.cipherSuites".into(),
            vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(), "TLS_AES_128_GCM_SHA256".into()],
        ));
        settings.hostname_verification = false;
        assert!(settings.connector().is_ok());
        settings.cipher_suites = Some(("ssl.cipherSuites".into(), vec!["TLS_NOPE_WITH_NOTHING".into()]));
        let error = settings.connector().err().expect("an unknown suite is refused").to_string();
        assert!(error.contains("ssl.cipherSuites") && error.contains("TLS_NOPE_WITH_NOTHING"), "{error}");
    }

    #[test]
    fn base64_material_is_inline_and_passwords_stay_out_of_debug_output() {
        assert_eq!(Material::parse("k", "base64:aGk=").unwrap(), Material::Inline(b"hi".to_vec()));
        assert!(Material::parse("k", "base64:!!").unwrap_err().to_string().contains("do not decode"));
        let s = Store { key: "k".into(), material: Material::File("/a".into()), password: Some("hunter2".into()) };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
