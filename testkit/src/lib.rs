//! Real services for tests: a `redis-server`, a 3-master Redis Cluster and a throwaway
//! PostgreSQL cluster, each on a free loopback port in a temporary directory, stopped and
//! removed when dropped (also when the test panics). A missing binary is a loud failure that
//! names the package to install, never a skipped test.

/// Free loopback ports.
pub mod ports;
/// A throwaway PostgreSQL cluster.
pub mod postgres;
/// redis-server and Redis Cluster.
pub mod redis;
