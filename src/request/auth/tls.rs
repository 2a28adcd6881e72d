//! The rustls client configuration for the AppLink API (and an `https://` OTLP collector): the
//! ring provider, and the platform's roots or those of `SSL_CERT_FILE`.

use std::path::Path;
use std::sync::Arc;

use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::{CertificateDer, pem::PemObject};
use rustls::{ClientConfig, RootCertStore};

use crate::config::ConfigError;

pub(crate) fn client_config(ssl_cert_file: Option<&Path>) -> Result<ClientConfig, ConfigError> {
    let mut roots = RootCertStore::empty();
    match ssl_cert_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    ConfigError(format!(
                        "SSL_CERT_FILE={}: cannot read certificates: {e}",
                        path.display()
                    ))
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(ConfigError(format!(
                    "SSL_CERT_FILE={} holds no usable certificate; point it at a PEM bundle or unset it",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(
                    "no trusted root certificates found on this machine; HTTPS calls to the AppLink API will fail (install ca-certificates or set SSL_CERT_FILE)"
                );
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError(format!("TLS set-up failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// A connector for `https://` (with `tls`) and `http://` URLs, TCP_NODELAY on: the AppLink API
/// client's, which offers `h2` and `http/1.1` by ALPN (`offer_h2`), and the OTLP exporter's,
/// HTTP/1.1 only.
pub(crate) fn https_connector(
    tls: ClientConfig,
    connect_timeout: Option<Duration>,
    offer_h2: bool,
) -> HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(connect_timeout);
    http.set_nodelay(true);
    // TCP keep-alive on a connection kept open while idle: probes after 30 s of silence keep a
    // NAT's or load balancer's entry for it, and find a peer that vanished (3 probes 10 s apart)
    // on HTTP/1.1, which has no ping of its own.
    http.set_keepalive(Some(Duration::from_secs(30)));
    http.set_keepalive_interval(Some(Duration::from_secs(10)));
    http.set_keepalive_retries(Some(3));
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    if offer_h2 {
        builder.enable_all_versions().wrap_connector(http)
    } else {
        builder.enable_http1().wrap_connector(http)
    }
}
