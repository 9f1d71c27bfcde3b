//! The SSRF guard: destinations may not reach private, loopback, link-local or otherwise
//! internal addresses unless configuration allows it. The check runs on the addresses that the
//! connection will actually use (a resolver that filters DNS answers), and on IP literals in
//! URLs, so DNS tricks cannot bypass it.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::Poll;

/// Whether a destination may connect to `ip`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
        || o[0] >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x64 && s[1] == 0xff9b)) // NAT64 may reach internal IPv4
}

/// The error a blocked destination produces (recognised when classifying the failure).
#[derive(Debug, thiserror::Error)]
#[error("pier refused to connect: {0} is not a public address (see --allow-private-destinations)")]
pub struct Blocked(pub String);

/// A resolver that drops non-public addresses unless `allow_private`.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The addresses of `host` that a destination may use (`Blocked` when none is left).
async fn resolve(host: String, allow_private: bool) -> Result<Vec<SocketAddr>, BoxError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
    let kept: Vec<SocketAddr> = addrs.into_iter().filter(|a| allow_private || is_public(a.ip())).collect();
    if kept.is_empty() {
        return Err(Box::new(Blocked(host)));
    }
    Ok(kept)
}

/// For reqwest's clients (OAuth2 token requests).
impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolving = resolve(name.as_str().to_string(), self.allow_private);
        Box::pin(async move { Ok(Box::new(resolving.await?.into_iter()) as Addrs) })
    }
}

/// For the delivery client's TCP connector (client.rs).
impl tower_service::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let resolving = resolve(name.as_str().to_string(), self.allow_private);
        Box::pin(async move { Ok(resolving.await?.into_iter()) })
    }
}

/// Check an IP literal in a URL host (the resolver is not consulted for those).
pub fn check_host(host: &str, allow_private: bool) -> Result<(), Blocked> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) if !allow_private && !is_public(ip) => Err(Blocked(host.to_string())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn ip_literals_are_checked() {
        assert!(check_host("127.0.0.1", false).is_err());
        assert!(check_host("[::1]", false).is_err());
        assert!(check_host("127.0.0.1", true).is_ok());
        assert!(check_host("example.com", false).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_drops_private_answers() {
        let guarded = GuardedResolver { allow_private: false };
        let r = guarded.resolve("localhost".parse().unwrap()).await;
        assert!(r.is_err(), "localhost resolves only to loopback");
        let open = GuardedResolver { allow_private: true };
        assert!(open.resolve("localhost".parse().unwrap()).await.is_ok());
    }
}
