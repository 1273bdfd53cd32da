//! Push instead of polling: a ticket system calls `POST /v1/hooks/{system}` when a ticket
//! changes, and the ticket is read at once (polling stays, for calls that never come).
//!
//! What a call says is never written anywhere: it only names a ticket, which is then read
//! from the system's API as any pass reads it. So a call is accepted only with the system's
//! signature over its body, a delivery seen lately is answered and not acted on again, and
//! even a replayed or crafted call that passes changes nothing, since reading a ticket that
//! did not change queues nothing.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use axum::http::HeaderMap;

use super::SystemError;

/// One call as it arrived: each system reads its own headers.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Delivery<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What became of an accepted call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// The ticket was read into the store (`found`: it exists in the system); if what a
    /// person wrote changed, it is queued for triage.
    Read { ticket: i64, found: bool },
    /// This delivery was acted on already.
    Replayed,
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// No such system on this pipeline, or its hook has no secret configured.
    #[error("this pipeline takes no calls from {0}")]
    Off(String),
    /// The signature is missing or does not match the body.
    #[error("the call's signature does not match")]
    Signature,
    #[error("the call's body names no ticket: {0}")]
    Malformed(String),
    #[error(transparent)]
    System(#[from] SystemError),
}

/// Reads `ticket` for a checked call unless its delivery `key` was acted on already; a read
/// that fails forgets the key, so the system's retry of the same call is acted on.
pub async fn read_once<E: Into<SystemError>>(
    seen: &Seen,
    key: Option<&str>,
    ticket: i64,
    read: impl std::future::Future<Output = Result<bool, E>>,
) -> Result<Receipt, HookError> {
    if key.is_some_and(|key| !seen.first_time(key)) {
        return Ok(Receipt::Replayed);
    }
    match read.await {
        Ok(found) => Ok(Receipt::Read { ticket, found }),
        Err(e) => {
            if let Some(key) = key {
                seen.forget(key);
            }
            Err(HookError::System(e.into()))
        }
    }
}

/// The delivery ids seen lately, the oldest forgotten first.
#[derive(Debug, Default)]
pub struct Seen(Mutex<(VecDeque<String>, HashSet<String>)>);

/// Deliveries remembered; a system retries a failed delivery within minutes, far fewer.
const REMEMBERED: usize = 10_000;

impl Seen {
    /// Whether `id` is new (and from now on seen).
    pub fn first_time(&self, id: &str) -> bool {
        let mut guard = self.0.lock().expect("no panic holds this lock");
        let (order, set) = &mut *guard;
        if !set.insert(id.to_owned()) {
            return false;
        }
        order.push_back(id.to_owned());
        if order.len() > REMEMBERED {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }

    /// Forgets `id`: the call it came with failed, and the system will send it again.
    pub fn forget(&self, id: &str) {
        let mut guard = self.0.lock().expect("no panic holds this lock");
        let (order, set) = &mut *guard;
        set.remove(id);
        order.retain(|seen| seen != id);
    }
}

/// Whether `signature` is `sha1=HEX` of HMAC-SHA1 over `body` with `secret` (Zammad's),
/// compared in constant time.
pub fn hmac_sha1_matches(secret: &str, body: &[u8], signature: Option<&str>) -> bool {
    use hmac::{Hmac, Mac};
    let Some(expected) = signature
        .and_then(|s| s.trim().strip_prefix("sha1="))
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Whether `signature` is the hex HMAC-SHA256 of `parts` one after the other with `secret`
/// (GLPI's: the body, then the timestamp), compared in constant time.
pub fn hmac_sha256_matches(secret: &str, parts: &[&[u8]], signature: Option<&str>) -> bool {
    use hmac::{Hmac, Mac};
    let Some(expected) = signature.and_then(|h| hex::decode(h.trim()).ok()) else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secrets_signature_over_this_body_matches() {
        // RFC 2202's second HMAC-SHA1 test case.
        let signature = "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
        let body = b"what do ya want for nothing?";
        assert!(hmac_sha1_matches("Jefe", body, Some(signature)));
        assert!(!hmac_sha1_matches(
            "Jefe",
            b"what do ya want for nothing!",
            Some(signature)
        ));
        assert!(!hmac_sha1_matches("jefe", body, Some(signature)));
        assert!(!hmac_sha1_matches("Jefe", body, Some(&signature[5..])));
        assert!(!hmac_sha1_matches("Jefe", body, Some("sha1=zz")));
        assert!(!hmac_sha1_matches("Jefe", body, None));
    }

    #[test]
    fn glpis_signature_covers_the_body_then_the_timestamp() {
        // RFC 4231's second HMAC-SHA256 test case, its message cut in two.
        let signature = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let parts: [&[u8]; 2] = [b"what do ya want ", b"for nothing?"];
        assert!(hmac_sha256_matches("Jefe", &parts, Some(signature)));
        assert!(!hmac_sha256_matches("Jefe", &parts[..1], Some(signature)));
        assert!(!hmac_sha256_matches("Jefe", &parts, Some("5bdc")));
        assert!(!hmac_sha256_matches("Jefe", &parts, None));
    }

    #[test]
    fn a_delivery_is_acted_on_once_until_forgotten() {
        let seen = Seen::default();
        assert!(seen.first_time("a"));
        assert!(!seen.first_time("a"));
        seen.forget("a");
        assert!(seen.first_time("a"));
        for i in 0..REMEMBERED {
            seen.first_time(&i.to_string());
        }
        assert!(seen.first_time("a"), "the oldest is forgotten first");
    }
}
