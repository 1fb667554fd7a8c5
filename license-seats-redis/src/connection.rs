//! The ledger URL, and the connection it names: one node through a `ConnectionManager`
//! (reconnects by itself), or a Redis Cluster through the async cluster client; each in plain
//! TCP or TLS (`rediss://`, `rediss+cluster://`).

use std::time::Duration;

use license_core::{Error, Result};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, RedisResult};

/// The setting every URL error names.
const FIELD: &str = "ledger_url";
const SCHEMES: &str = "use redis://host:port, rediss://host:port (TLS), \
                       redis+cluster://host1:port,host2:port or \
                       rediss+cluster://host1:port,host2:port (TLS)";

/// What a ledger URL names, validated but not connected yet.
pub(crate) enum Target {
    /// `redis://` or `rediss://`: one node.
    Node(Box<Client>),
    /// `redis+cluster://` or `rediss+cluster://`: the seed nodes of a cluster.
    Cluster(Box<ClusterClient>),
}

impl Target {
    /// Parses a ledger URL. Errors name the setting and never repeat the URL (it may hold a
    /// password).
    pub(crate) fn parse(url: &str, timeout: Duration) -> Result<Target> {
        let url = url.trim();
        let scheme_end = url.find("://").map_or(0, |i| i + 3);
        let scheme = url[..scheme_end].to_ascii_lowercase();
        match scheme.as_str() {
            "redis://" | "rediss://" => {
                if scheme == "rediss://" {
                    ensure_crypto_provider();
                }
                Client::open(url)
                    .map(|client| Target::Node(Box::new(client)))
                    .map_err(|e| Error::invalid(FIELD, format!("{e}; {SCHEMES}")))
            }
            "redis+cluster://" => cluster_client("redis://", &url[scheme_end..], timeout)
                .map(|client| Target::Cluster(Box::new(client))),
            "rediss+cluster://" => {
                ensure_crypto_provider();
                // Nodes the cluster redirects to are reached with the seeds' TLS settings.
                cluster_client("rediss://", &url[scheme_end..], timeout)
                    .map(|client| Target::Cluster(Box::new(client)))
            }
            _ => Err(Error::invalid(
                FIELD,
                format!("unsupported scheme: {SCHEMES}"),
            )),
        }
    }

    /// Opens the first connection. Waits at most `timeout` for it (the caller enforces that).
    pub(crate) async fn connect(self, timeout: Duration) -> RedisResult<Backend> {
        match self {
            Target::Node(client) => {
                // One plain attempt first, so a wrong password or an untrusted certificate is
                // reported as such, not as a timeout after the manager's retries.
                let probe = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout));
                drop(
                    client
                        .get_multiplexed_async_connection_with_config(&probe)
                        .await?,
                );
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    // Reconnect quickly once the server is back: at most a second apart.
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_secs(1))
                    .set_number_of_retries(6);
                let manager = ConnectionManager::new_with_config(*client, config).await?;
                Ok(Backend::Node(manager))
            }
            Target::Cluster(client) => Ok(Backend::Cluster(client.get_async_connection().await?)),
        }
    }
}

/// rustls needs one crypto provider per process. Ours is aws-lc-rs (already used for lease
/// tokens); one installed earlier by the application is kept.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another thread installing one is fine: a provider is installed.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// `host1:port,host2:port` (after `redis+cluster://` or `rediss+cluster://`), with optional
/// `user:password@` in front that applies to every node, and an optional trailing `/`. Each
/// node becomes a `node_scheme` (`redis://` or `rediss://`) URL.
fn cluster_client(node_scheme: &str, rest: &str, timeout: Duration) -> Result<ClusterClient> {
    let rest = rest.trim_end_matches('/');
    let (userinfo, hosts) = match rest.rsplit_once('@') {
        Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
        None => (String::new(), rest),
    };
    let mut nodes = Vec::new();
    for host in hosts.split(',') {
        let host = host.trim();
        if host.is_empty() || host.contains('/') {
            return Err(Error::invalid(
                FIELD,
                format!("a cluster URL lists host:port pairs separated by commas; {SCHEMES}"),
            ));
        }
        let node = format!("{node_scheme}{userinfo}{host}")
            .into_connection_info()
            .map_err(|e| Error::invalid(FIELD, format!("cluster node {host}: {e}")))?;
        nodes.push(node);
    }
    ClusterClient::builder(nodes)
        .connection_timeout(timeout)
        .response_timeout(timeout)
        .build()
        .map_err(|e| Error::invalid(FIELD, e.to_string()))
}

/// An open connection. Both kinds are cheap handles, cloned for every call.
#[derive(Clone)]
pub(crate) enum Backend {
    /// One node.
    Node(ConnectionManager),
    /// A cluster.
    Cluster(ClusterConnection),
}

impl Backend {
    /// What kind of backend this is, for `Debug`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Backend::Node(_) => "node",
            Backend::Cluster(_) => "cluster",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(1);

    fn field_of(result: Result<Target>) -> (&'static str, String) {
        match result {
            Err(Error::InvalidInput { field, reason }) => (field, reason),
            Err(other) => panic!("expected invalid input, got {other}"),
            Ok(_) => panic!("expected invalid input, got a target"),
        }
    }

    #[test]
    fn accepts_the_four_schemes() {
        assert!(matches!(
            Target::parse("redis://127.0.0.1:6379", T),
            Ok(Target::Node(_))
        ));
        assert!(matches!(
            Target::parse("REDIS://localhost", T),
            Ok(Target::Node(_))
        ));
        assert!(matches!(
            Target::parse("redis+cluster://10.0.0.1:7000,10.0.0.2:7001/", T),
            Ok(Target::Cluster(_))
        ));
        assert!(matches!(
            Target::parse("redis+cluster://user:secret@h1:7000,h2", T),
            Ok(Target::Cluster(_))
        ));
        assert!(matches!(
            Target::parse("rediss+cluster://user:secret@h1:7000,h2:7001", T),
            Ok(Target::Cluster(_))
        ));
        assert!(matches!(
            Target::parse("rediss://h1:6380", T),
            Ok(Target::Node(_))
        ));
    }

    #[test]
    fn any_other_scheme_names_the_setting_and_the_schemes() {
        for url in [
            "http://localhost:6379",
            "localhost:6379",
            "",
            "postgres://x",
            "redis+sentinel://h",
        ] {
            let (field, reason) = field_of(Target::parse(url, T));
            assert_eq!(field, "ledger_url");
            assert!(reason.contains("redis+cluster://"), "{url}: {reason}");
        }
    }

    #[test]
    fn a_bad_url_never_echoes_the_password() {
        for url in [
            "redis+cluster://",
            "redis+cluster://u:hunter2@h1,,h2",
            "redis+cluster://u:hunter2@h1/0",
            "redis+cluster://u:hunter2@h1:notaport",
            "rediss+cluster://u:hunter2@h1,,h2",
            "redis://u:hunter2@h1:notaport",
        ] {
            let (field, reason) = field_of(Target::parse(url, T));
            assert_eq!(field, "ledger_url");
            assert!(!reason.contains("hunter2"), "{reason}");
        }
    }
}
