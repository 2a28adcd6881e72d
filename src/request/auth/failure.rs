//! What an operator needs to hear about the AppLink API (docs/behaviour.md §5.2): why a call
//! failed, in words (not "client error (Connect)"), and when the API keeps refusing, that the
//! token or the attachment may be wrong.

use std::error::Error;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Refusals in a row that make the warning.
pub(crate) const REFUSALS_BEFORE_WARNING: u32 = 5;
/// At most one such warning per attachment in this period.
const WARNING_EVERY: Duration = Duration::from_secs(300);

/// Why a call to the API failed: the TLS verdict in words when there is one, else the innermost
/// cause (`Connection refused`, `dns error: …`).
pub(crate) fn cause(error: &(dyn Error + 'static)) -> String {
    let mut innermost = error.to_string();
    let mut next: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(current) = next {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return tls_cause(tls);
        }
        innermost = current.to_string();
        next = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref().map(|inner| inner as &(dyn Error + 'static)))
            .or_else(|| current.source());
    }
    innermost
}

/// A certificate verdict as a person says it.
fn tls_cause(error: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(certificate) = error else {
        return format!("TLS: {error}");
    };
    let why = match certificate {
        C::UnknownIssuer => {
            "certificate signed by an unknown authority (no trusted root; with SSL_CERT_FILE set, \
             only the certificates in that file are trusted)"
        }
        // A trusted root has the issuer's name, but another key signed the certificate.
        C::BadSignature => {
            "certificate signed by an unknown authority (a trusted root has its issuer's name but \
             did not sign it)"
        }
        C::Expired | C::ExpiredContext { .. } => "certificate has expired",
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "certificate is not valid yet (check the clock)"
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "certificate is not valid for the API's host name"
        }
        C::Revoked => "certificate has been revoked",
        C::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            "certificate is a CA certificate used as a server certificate"
        }
        _ => return format!("invalid certificate: {certificate:?}"),
    };
    why.to_string()
}

/// Counts one attachment's refusals in a row; says once in a while that they may mean a wrong
/// token or attachment.
pub(crate) struct Refusals {
    in_a_row: AtomicU32,
    warning: RateLimitedWarning,
}

impl Default for Refusals {
    fn default() -> Refusals {
        Refusals {
            in_a_row: AtomicU32::new(0),
            warning: RateLimitedWarning::every(WARNING_EVERY),
        }
    }
}

impl Refusals {
    /// An answer that was not a refusal: the count starts again.
    pub(crate) fn accepted(&self) {
        self.in_a_row.store(0, Ordering::Relaxed);
    }

    /// A 401 or 403. Returns whether to warn now: at the threshold, and not again within
    /// [`WARNING_EVERY`].
    pub(crate) fn refused(&self) -> bool {
        let count = self.in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        count >= REFUSALS_BEFORE_WARNING && self.warning.due().is_some()
    }
}

/// A warning said at most once per period, with how many times it was due in between.
pub(crate) struct RateLimitedWarning {
    every: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl RateLimitedWarning {
    pub(crate) fn every(every: Duration) -> RateLimitedWarning {
        RateLimitedWarning {
            every,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(times it was held back since the last one)` when the warning may be said now.
    pub(crate) fn due(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if state
            .0
            .is_some_and(|at| now.duration_since(at) < self.every)
        {
            state.1 += 1;
            return None;
        }
        let held_back = state.1;
        *state = (Some(now), 0);
        Some(held_back)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_warn_once_at_the_threshold_and_start_again_on_success() {
        let refusals = Refusals::default();
        let warnings: Vec<bool> = (0..12).map(|_| refusals.refused()).collect();
        assert_eq!(warnings.iter().filter(|w| **w).count(), 1);
        assert!(warnings[REFUSALS_BEFORE_WARNING as usize - 1]);
        refusals.accepted();
        assert!(!refusals.refused());
    }

    #[test]
    fn a_rate_limited_warning_counts_what_it_held_back() {
        let warning = RateLimitedWarning::every(Duration::from_secs(60));
        assert_eq!(warning.due(), Some(0));
        assert_eq!(warning.due(), None);
        assert_eq!(warning.due(), None);
        let instant = RateLimitedWarning::every(Duration::ZERO);
        assert_eq!(instant.due(), Some(0));
        assert_eq!(instant.due(), Some(0));
    }

    #[test]
    fn causes_are_said_in_words() {
        let unknown = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let wrapped = std::io::Error::new(std::io::ErrorKind::InvalidData, unknown);
        assert!(cause(&wrapped).starts_with("certificate signed by an unknown authority"));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(cause(&refused), refused.to_string());
        let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        assert_eq!(cause(&expired), "certificate has expired");
    }
}
