//! Real services for tests: a `redis-server`, a 3-master Redis Cluster and a throwaway
//! PostgreSQL cluster, each on a free loopback port in a temporary directory, stopped and
//! removed when dropped (also when the test panics). A missing binary is a loud failure that
//! names the package to install, never a skipped test. And `fake_kms`, a Cloud KMS that runs
//! in the test process (real keys, real HTTP on loopback, injectable faults): gcloud's
//! emulators do not cover Cloud KMS.

/// An in-test Cloud KMS: signing, encrypt/decrypt, call counters, faults.
pub mod fake_kms;
/// Free loopback ports.
pub mod ports;
/// A throwaway PostgreSQL cluster.
pub mod postgres;
/// redis-server and Redis Cluster.
pub mod redis;
