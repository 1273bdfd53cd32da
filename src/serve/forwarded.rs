//! Who a request comes from, for the public rate limit: the peer address, or behind a trusted
//! reverse proxy the client that proxy names in its forwarding header.

use std::net::IpAddr;

use axum::http::header::{HeaderMap, FORWARDED};

use crate::config::{AddressRange, ForwardedHeader};

/// Finds the client behind the trusted proxies.
#[derive(Debug, Clone)]
pub struct ClientAddress {
    trusted: Vec<AddressRange>,
    header: ForwardedHeader,
}

impl ClientAddress {
    pub fn new(trusted: &[AddressRange], header: ForwardedHeader) -> Self {
        Self {
            trusted: trusted.to_vec(),
            header,
        }
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        self.trusted.iter().any(|range| range.contains(address))
    }

    /// The client a request from `peer` comes from. Each proxy appends the address it was
    /// called from, so the chain is read from the right: the first address that is not a
    /// trusted proxy is the client; everything left of it may have been written by that
    /// client. An entry that names no address ("unknown", an obfuscated name) ends the walk
    /// at the proxy that wrote it, whose budget is then shared, never the client's choice.
    pub fn of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.is_trusted(client) {
            return client;
        }
        let chain = self.chain(headers);
        for entry in chain.iter().rev() {
            match entry {
                Some(address) => client = address.to_canonical(),
                None => break,
            }
            if !self.is_trusted(client) {
                break;
            }
        }
        client
    }

    /// The forwarding header's entries, left to right, over all its lines.
    fn chain(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let name = match self.header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => FORWARDED.as_str(),
        };
        let mut chain = Vec::new();
        for line in headers.get_all(name) {
            let Ok(line) = line.to_str() else {
                chain.push(None); // not text: nothing in it can be trusted
                continue;
            };
            for element in line.split(',') {
                let node = match self.header {
                    ForwardedHeader::XForwardedFor => Some(element),
                    ForwardedHeader::Forwarded => for_parameter(element),
                };
                chain.push(node.and_then(node_address));
            }
        }
        chain
    }
}

/// The `for=` value of one `Forwarded` element (`for=192.0.2.60;proto=http;by=203.0.113.43`).
fn for_parameter(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then_some(value)
    })
}

/// The address in a node: `192.0.2.43`, `192.0.2.43:47011`, `"[2001:db8:cafe::17]:4711"`,
/// `2001:db8::17`; `None` for `unknown` or an obfuscated name.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(address) = node.parse() {
        return Some(address);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (address, _port) = node.rsplit_once(':')?;
    address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn ranges(texts: &[&str]) -> Vec<AddressRange> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    fn headers(name: &str, lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(line).unwrap(),
            );
        }
        map
    }

    #[test]
    fn ranges_hold_what_their_prefix_says() {
        let private: AddressRange = "10.0.0.0/8".parse().unwrap();
        assert!(private.contains(ip("10.200.3.4")));
        assert!(!private.contains(ip("11.0.0.1")));
        assert!(private.contains(ip("::ffff:10.1.2.3")), "v4-mapped v6");
        let one: AddressRange = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all: AddressRange = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")) && !all.contains(ip("::1")));
        let v6: AddressRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        for wrong in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "host",
            "10.0.0.0/x",
            "",
        ] {
            assert!(wrong.parse::<AddressRange>().is_err(), "{wrong}");
        }
    }

    #[test]
    fn behind_a_trusted_proxy_the_forwarded_client_counts() {
        let client = ClientAddress::new(&ranges(&["10.0.0.0/8"]), ForwardedHeader::XForwardedFor);
        let proxy = ip("10.0.0.2");
        let forwarded = headers("x-forwarded-for", &["198.51.100.7, 10.0.0.9"]);
        assert_eq!(client.of(proxy, &forwarded), ip("198.51.100.7"));
        // A client's own forged entries lie left of the one the proxy wrote.
        let forged = headers("x-forwarded-for", &["1.2.3.4, 203.0.113.5"]);
        assert_eq!(client.of(proxy, &forged), ip("203.0.113.5"));
        let split = headers("x-forwarded-for", &["1.2.3.4", "203.0.113.5:5555"]);
        assert_eq!(client.of(proxy, &split), ip("203.0.113.5"));
        assert_eq!(client.of(proxy, &HeaderMap::new()), proxy, "no header");
        let unknown = headers("x-forwarded-for", &["198.51.100.7, unknown"]);
        assert_eq!(client.of(proxy, &unknown), proxy, "the proxy's budget");
    }

    #[test]
    fn an_untrusted_peer_is_its_own_address_whatever_it_forwards() {
        let client = ClientAddress::new(&ranges(&["10.0.0.0/8"]), ForwardedHeader::XForwardedFor);
        let forged = headers("x-forwarded-for", &["198.51.100.7"]);
        assert_eq!(client.of(ip("203.0.113.5"), &forged), ip("203.0.113.5"));
        let nobody = ClientAddress::new(&[], ForwardedHeader::XForwardedFor);
        assert_eq!(nobody.of(ip("10.0.0.2"), &forged), ip("10.0.0.2"));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let rfc = ClientAddress::new(&ranges(&["127.0.0.1"]), ForwardedHeader::Forwarded);
        let proxy = ip("127.0.0.1");
        let both = {
            let mut map = headers(
                "forwarded",
                &["for=\"[2001:db8:cafe::17]:4711\";proto=https, For=192.0.2.60;by=x"],
            );
            map.append("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
            map
        };
        assert_eq!(rfc.of(proxy, &both), ip("192.0.2.60"));
        let obfuscated = headers("forwarded", &["for=192.0.2.60, for=_hidden"]);
        assert_eq!(rfc.of(proxy, &obfuscated), proxy);
        let v6 = headers("forwarded", &["for=\"[2001:db8:cafe::17]:4711\""]);
        assert_eq!(rfc.of(proxy, &v6), ip("2001:db8:cafe::17"));
        let xff = ClientAddress::new(&ranges(&["127.0.0.1"]), ForwardedHeader::XForwardedFor);
        assert_eq!(xff.of(proxy, &both), ip("1.2.3.4"));
    }
}
