//! What the single-node and the cluster tests share: a fixture (ledger, a direct Redis
//! connection to look at the keys, a way to wipe Redis) and the scenarios both run.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use license_core::testing::LedgerHarness;
use license_core::{
    HardwareId, LedgerKey, LicenseId, RebuildOutcome, SeatLedger, SeatRequest, SeatTally,
    SessionId, TenantId,
};
use license_seats_redis::{RedisLedger, RedisOptions};

/// What the keys of borrowed and lingering seats and of hold-offs must keep.
pub mod kinds;
/// What the compact key layout must keep, which both topologies check.
pub mod layout;
/// What the seat-policy keys (caps, reserves, counts) must keep, which both topologies check.
pub mod policy;
/// The seat queue's turns, which both topologies check.
pub mod queue;
/// What the seat queue's keys must keep, which both topologies check.
pub mod queue_keys;
/// The scenarios both topologies run.
pub mod scenarios;
use redis::FromRedisValue;
use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;

/// Generous for the concurrent tests on a busy 2-core CI machine; the outage test sets its own.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Wipes every key on every node (a Redis restart without persistence, a failover, FLUSHALL).
pub type Wipe = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// A ledger on real Redis, and ways to look at and wipe its state.
pub struct Fixture {
    pub ledger: Arc<RedisLedger>,
    pub probe: Probe,
    pub wipe: Wipe,
}

impl Fixture {
    pub async fn new(url: &str, wipe: Wipe) -> Fixture {
        let options = RedisOptions { timeout: TIMEOUT };
        let ledger = Arc::new(RedisLedger::connect_with(url, options).await.unwrap());
        Fixture {
            ledger,
            probe: Probe::connect(url).await,
            wipe,
        }
    }

    /// The port contract's harness on this fixture.
    pub fn harness(&self) -> LedgerHarness {
        let wipe = self.wipe.clone();
        LedgerHarness {
            ledger: self.ledger.clone(),
            lose_state: Box::new(move || wipe()),
        }
    }

    /// A fresh license whose ledger state is initialised (empty).
    pub async fn license(&self) -> LedgerKey {
        Self::license_on(self.ledger.as_ref()).await
    }

    /// A fresh license initialised on `ledger`.
    pub async fn license_on(ledger: &RedisLedger) -> LedgerKey {
        let key = LedgerKey {
            tenant_id: TenantId::new(),
            license_id: LicenseId::new(),
        };
        assert_eq!(
            ledger.rebuild(&key, &[], &[]).await.unwrap(),
            RebuildOutcome::Rebuilt
        );
        key
    }
}

/// A plain connection to the same Redis, to look at the ledger's keys from outside.
#[derive(Clone)]
pub enum Probe {
    Node(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Probe {
    pub async fn connect(url: &str) -> Probe {
        match url.strip_prefix("redis+cluster://") {
            Some(hosts) => {
                let nodes: Vec<String> = hosts.split(',').map(|h| format!("redis://{h}")).collect();
                let client = redis::cluster::ClusterClient::new(nodes).unwrap();
                Probe::Cluster(client.get_async_connection().await.unwrap())
            }
            None => {
                let client = redis::Client::open(url).unwrap();
                Probe::Node(client.get_multiplexed_async_connection().await.unwrap())
            }
        }
    }

    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        match self {
            Probe::Node(conn) => cmd.query_async(&mut conn.clone()).await.unwrap(),
            Probe::Cluster(conn) => cmd.query_async(&mut conn.clone()).await.unwrap(),
        }
    }

    /// A command whose error the test expects.
    pub async fn try_query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        match self {
            Probe::Node(conn) => cmd.query_async(&mut conn.clone()).await,
            Probe::Cluster(conn) => cmd.query_async(&mut conn.clone()).await,
        }
    }

    /// `ZCARD` of a license's seats: every member, expired or not.
    pub async fn zcard(&self, key: &LedgerKey) -> u32 {
        self.query(redis::cmd("ZCARD").arg(seats_key(key))).await
    }

    /// How many (machine, session) records the license's holders hash keeps: its values are
    /// 28-byte records packed together.
    pub async fn holder_records(&self, key: &LedgerKey) -> usize {
        let values: Vec<Vec<u8>> = self
            .query(redis::cmd("HVALS").arg(redis_key(key, "holders")))
            .await;
        let bytes: usize = values.iter().map(Vec::len).sum();
        assert_eq!(bytes % 28, 0, "holders hold whole records");
        bytes / 28
    }
}

/// Every part of a license's key layout: `lic:{<tenant>:<license>}:v2:<part>`.
pub const PARTS: [&str; 3] = ["init", "seats", "holders"];

/// The documented key layout (`lua/common.lua`): `lic:{<tenant>:<license>}:v2:<part>`.
pub fn redis_key(key: &LedgerKey, part: &str) -> String {
    format!("lic:{{{}:{}}}:v2:{part}", key.tenant_id, key.license_id)
}

pub fn seats_key(key: &LedgerKey) -> String {
    redis_key(key, "seats")
}

pub fn hw(name: &str) -> HardwareId {
    HardwareId::parse(name).unwrap()
}

pub fn request(machine: &str, limit: u32, ttl: Duration) -> SeatRequest {
    SeatRequest {
        session_id: SessionId::new(),
        hardware_id: hw(machine),
        limit,
        ttl,
        user: None,
        borrow: None,
        tally: SeatTally::default(),
    }
}
