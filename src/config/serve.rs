//! The `[serve]` section of a pipeline file, with the address ranges and header names it
//! takes (`src/serve/forwarded.rs` reads requests by them).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::Deserialize;

/// How `ticketlens serve` listens and protects itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Address to listen on. Loopback by default: put a TLS-terminating proxy in front before
    /// opening it to the network (and list it in `trusted_proxies`).
    pub listen: String,
    /// Bearer token for the agent endpoints and pages. The environment variable
    /// `TICKETLENS_AGENT_TOKEN` takes precedence, so the token need not sit in a file. With
    /// neither, the agent endpoints refuse every call.
    pub agent_token: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Requests per minute one client may make to the public endpoints (600: ten a second).
    /// What the limit protects is the model's time, and the model already answers
    /// "overloaded" (503) rather than queue once it is full; the limit keeps one client from
    /// taking that time from everyone else. A whole before-filing answer (embedding, search,
    /// record) takes under 20 ms on two cores (`cargo bench --bench before_filing`), so ten a
    /// second from one client hold at most a fifth of one core, while a person typing sends
    /// three or four a second at most (the page asks 350 ms after the last key) and an office
    /// of 150 behind one NAT address, each person asking a question of four requests within
    /// the minute, stays under it.
    pub public_per_minute: u32,
    /// Requests one client may make at once before the per-minute rate applies (60): a long
    /// question typed word by word, or many people behind one address starting at the same
    /// moment, are all answered.
    pub public_burst: u32,
    /// The reverse proxies in front of `serve`, as addresses or CIDR ranges
    /// (`["127.0.0.1", "10.0.0.0/8", "::1"]`). A request from one of them is limited by the
    /// client its `forwarded_header` names: the right-most address there that is not a trusted
    /// proxy. From anyone else the header is ignored, so forging it dodges nothing. Empty
    /// (the default): every request is limited by the address it came from, and everyone
    /// behind an untrusted proxy shares one budget.
    pub trusted_proxies: Vec<AddressRange>,
    /// The header the trusted proxies write the client's address into: `"x-forwarded-for"`
    /// (nginx, Caddy, Traefik, HAProxy's `option forwardfor`; the default) or `"forwarded"`
    /// (RFC 7239's `for=`). Only that one is read: a proxy passes the other one on as the
    /// client wrote it, and reading it would let a client choose its own address.
    pub forwarded_header: ForwardedHeader,
    /// Seconds between reloads of articles, history and the classifier, which `run` (another
    /// process) keeps changing.
    pub refresh_secs: u64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            agent_token: None,
            max_body_bytes: 16 * 1024,
            public_per_minute: 600,
            public_burst: 60,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            refresh_secs: 600,
        }
    }
}

/// One address or a CIDR range of them (`10.0.0.0/8`, `::1`), as `trusted_proxies` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or a CIDR range such as 10.0.0.0/8")]
pub struct NotARange(String);

impl AddressRange {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                same_prefix(net.to_bits().into(), a.to_bits().into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                same_prefix(net.to_bits(), a.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether `a` and `b`, numbers of `width` bits, agree in their first `prefix` bits.
fn same_prefix(a: u128, b: u128, width: u8, prefix: u8) -> bool {
    let ignored = u32::from(width - prefix);
    a.checked_shr(ignored).unwrap_or(0) == b.checked_shr(ignored).unwrap_or(0)
}

impl FromStr for AddressRange {
    type Err = NotARange;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wrong = || NotARange(text.to_owned());
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| wrong())?;
        let network = network.to_canonical();
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().map_err(|_| wrong())?,
            None => width,
        };
        if prefix > width {
            return Err(wrong());
        }
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl<'de> Deserialize<'de> for AddressRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The header trusted proxies name the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239: `Forwarded: for=client;proto=https, for="[2001:db8::1]:4711"`.
    #[serde(rename = "forwarded")]
    Forwarded,
}

/// The smallest body limit that still takes a short question; the largest that a JSON request
/// of this API could need many times over.
const BODY_LIMITS: std::ops::RangeInclusive<usize> = 256..=16 << 20;

impl ServeConfig {
    /// Every setting within the range where it means something, named with its range (as
    /// `serve.public_burst must be at least 1`) rather than taken silently.
    pub fn validate(&self) -> Result<(), String> {
        let checks: [(&str, bool, &str); 4] = [
            (
                "serve.max_body_bytes",
                BODY_LIMITS.contains(&self.max_body_bytes),
                "between 256 and 16777216",
            ),
            (
                "serve.public_per_minute",
                self.public_per_minute >= 1,
                "at least 1",
            ),
            ("serve.public_burst", self.public_burst >= 1, "at least 1"),
            ("serve.refresh_secs", self.refresh_secs >= 1, "at least 1"),
        ];
        super::in_range(&checks)?;
        if !is_listen_address(&self.listen) {
            return Err(format!(
                "serve.listen must be an address and port such as 127.0.0.1:8080 or \
                 [::1]:8080, not {:?}",
                self.listen
            ));
        }
        Ok(())
    }
}

/// An IP address and port, or a host name and port (which the listener resolves).
fn is_listen_address(listen: &str) -> bool {
    if listen.parse::<SocketAddr>().is_ok() {
        return true;
    }
    let Some((host, port)) = listen.rsplit_once(':') else {
        return false;
    };
    let host_name = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    host_name && port.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(toml_text: &str) -> Result<ServeConfig, String> {
        let config: ServeConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        config.validate().map(|()| config)
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(ServeConfig::default().validate(), Ok(()));
        assert!(parsed("").is_ok());
    }

    #[test]
    fn out_of_range_settings_are_refused_by_name() {
        for (setting, key) in [
            ("public_per_minute = 0", "serve.public_per_minute"),
            ("public_burst = 0", "serve.public_burst"),
            ("max_body_bytes = 0", "serve.max_body_bytes"),
            ("max_body_bytes = 1000000000", "serve.max_body_bytes"),
            ("refresh_secs = 0", "serve.refresh_secs"),
            ("listen = \"8080\"", "serve.listen"),
            ("listen = \"localhost\"", "serve.listen"),
            ("listen = \"127.0.0.1:99999\"", "serve.listen"),
            ("listen = \"::1:8080\"", "serve.listen"),
            ("listen = \"\"", "serve.listen"),
        ] {
            let error = parsed(setting).unwrap_err();
            assert!(error.starts_with(key), "{setting}: {error}");
        }
    }

    #[test]
    fn listen_takes_addresses_and_host_names_with_a_port() {
        for listen in [
            "127.0.0.1:8080",
            "0.0.0.0:80",
            "[::1]:8080",
            "localhost:8080",
        ] {
            assert!(is_listen_address(listen), "{listen}");
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let config =
            parsed("trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\"]").unwrap();
        assert_eq!(config.trusted_proxies.len(), 3);
        for wrong in ["\"10.0.0.0/33\"", "\"proxy.local\"", "\"10.0.0.0/\""] {
            let error = parsed(&format!("trusted_proxies = [{wrong}]")).unwrap_err();
            assert!(error.contains("trusted_proxies"), "{wrong}: {error}");
        }
        let error = parsed("forwarded_header = \"x-real-ip\"").unwrap_err();
        assert!(error.contains("forwarded_header"), "{error}");
    }
}
