//! Who a request comes from: the TCP peer, or behind a trusted reverse proxy the entry that
//! proxy wrote into its header. Only the proxy's own entry is believed: everything to its left
//! came from the client, which can write anything there.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use poem::Request;
use poem::http::{HeaderMap, HeaderName};

/// A client address as budgets count it: an IPv4 address, or an IPv6 /64 (one subscriber's
/// network: a single host can pick any address in it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientAddress {
    /// An IPv4 address (an IPv4-mapped IPv6 address counts as its IPv4 address).
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 address.
    V6Net(u64),
    /// No IP address is known (not a TCP connection).
    Unknown,
}

impl From<IpAddr> for ClientAddress {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4),
                None => Self::V6Net((v6.to_bits() >> 64) as u64),
            },
        }
    }
}

impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(v4) => write!(f, "{v4}"),
            Self::V6Net(net) => write!(f, "{}/64", Ipv6Addr::from_bits(u128::from(*net) << 64)),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

/// Where client addresses come from (`limits.client_address_header`, `…_hops`).
#[derive(Clone, Debug)]
pub struct AddressSource {
    header: Option<HeaderName>,
    hops: usize,
}

impl AddressSource {
    /// The TCP peer, or the `hops`-th entry from the right of `header` when one is set.
    pub fn new(header: Option<HeaderName>, hops: u32) -> Self {
        Self {
            header,
            hops: usize::try_from(hops.max(1)).unwrap_or(1),
        }
    }

    /// The client `req` comes from. With a header configured but absent or unreadable (a
    /// request that did not pass the proxy), the TCP peer: never an address of the client's
    /// choosing.
    pub fn client(&self, req: &Request) -> ClientAddress {
        let peer = req.remote_addr().as_socket_addr().map(SocketAddr::ip);
        self.client_of(req.headers(), peer)
    }

    fn client_of(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> ClientAddress {
        self.header
            .as_ref()
            .and_then(|name| self.entry_in(headers, name))
            .or(peer)
            .map_or(ClientAddress::Unknown, ClientAddress::from)
    }

    /// The `hops`-th entry from the right of every `name` header, in order.
    fn entry_in(&self, headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
        let mut entries = Vec::new();
        for value in headers.get_all(name) {
            entries.extend(value.to_str().ok()?.split(',').map(str::trim));
        }
        let index = entries.len().checked_sub(self.hops)?;
        parse_entry(entries.get(index)?)
    }
}

/// An address as proxies write it: `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<IpAddr>().ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request from `peer` with these `X-Forwarded-For` lines, as `source` sees it.
    fn client(source: &AddressSource, peer: &str, forwarded: &[&str]) -> ClientAddress {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        let peer: SocketAddr = peer.parse().unwrap();
        source.client_of(&headers, Some(peer.ip()))
    }

    fn v4(s: &str) -> ClientAddress {
        ClientAddress::V4(s.parse().unwrap())
    }

    #[test]
    fn without_a_header_configured_the_peer_is_the_client_whatever_it_sends() {
        let source = AddressSource::new(None, 1);
        assert_eq!(
            client(&source, "198.51.100.9:5000", &["203.0.113.7"]),
            v4("198.51.100.9")
        );
    }

    #[test]
    fn behind_a_proxy_the_entry_it_appended_is_the_client() {
        let header = HeaderName::from_static("x-forwarded-for");
        let nginx = AddressSource::new(Some(header.clone()), 1);
        let spoofed = client(&nginx, "10.0.0.2:80", &["1.1.1.1, 203.0.113.7"]);
        assert_eq!(spoofed, v4("203.0.113.7"));
        let two_lines = client(&nginx, "10.0.0.2:80", &["1.1.1.1", "203.0.113.8:4711"]);
        assert_eq!(two_lines, v4("203.0.113.8"));

        let load_balancer = AddressSource::new(Some(header), 2);
        let behind = client(
            &load_balancer,
            "10.0.0.2:80",
            &["1.1.1.1, 203.0.113.7, 34.120.0.1"],
        );
        assert_eq!(behind, v4("203.0.113.7"));
        let short = client(&load_balancer, "10.0.0.2:80", &["34.120.0.1"]);
        assert_eq!(short, v4("10.0.0.2"), "too few entries");
    }

    #[test]
    fn a_missing_or_unreadable_header_falls_back_to_the_peer() {
        let source = AddressSource::new(Some(HeaderName::from_static("x-forwarded-for")), 1);
        assert_eq!(client(&source, "10.0.0.2:80", &[]), v4("10.0.0.2"));
        assert_eq!(
            client(&source, "10.0.0.2:80", &["not-an-address"]),
            v4("10.0.0.2")
        );
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientAddress::from(a), ClientAddress::from(b));
        assert_ne!(ClientAddress::from(a), ClientAddress::from(c));
        assert_eq!(ClientAddress::from(a).to_string(), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(ClientAddress::from(mapped), v4("203.0.113.7"));
        assert_eq!(
            parse_entry("[2001:db8::1]:4711"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            parse_entry("[2001:db8::1]"),
            Some("2001:db8::1".parse().unwrap())
        );
    }
}
