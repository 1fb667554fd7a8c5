//! [`RedisLedger`]: the `SeatLedger` port on Redis, one script call per operation.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use license_core::{
    AcquireOutcome, Dependency, Error, Hold, HoldOff, LedgerKey, LiveCount, LiveSeat, MAX_PRIORITY,
    QueueMode, QueueRequest, QueueTicket, RebuildOutcome, RenewOutcome, Result, SeatLedger,
    SeatRef, SeatRequest, SessionId, UserRef, Waiter,
};
use redis::{RedisResult, ScriptInvocation, Value};
use tokio::time::error::Elapsed;

use crate::connection::{Backend, Target};
use crate::keys::LicenseKeys;
use crate::{compact, scripts, tally};

/// How long a license's keys outlive its latest seat. An abandoned license frees its memory
/// this long after its last seat expired; the next call on it then answers `Rebuild`, which
/// reloads the (usually empty) live sessions from the store once.
pub const KEY_GRACE: Duration = Duration::from_secs(10 * 60);

/// The longest TTL a seat may ask for (keeps every expiry exact in Lua's doubles).
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The oldest Redis the scripts run on: 5.0 replicates a script's effects (its writes), not
/// the script, so reading `TIME` and then writing is allowed.
const MIN_REDIS_VERSION: (u32, u32) = (5, 0);

/// Connection settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    /// The longest a call (connecting included) may take before it fails with
    /// [`Error::Unavailable`]. Default: 2 seconds.
    pub timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
        }
    }
}

/// The seat ledger on Redis or Redis Cluster.
///
/// Cheap to share (`Arc<RedisLedger>` or `Arc<dyn SeatLedger>`): calls run concurrently over
/// one multiplexed connection per node. When Redis is down every call fails within
/// [`RedisOptions::timeout`] with [`Error::Unavailable`] naming the ledger, and works again once
/// Redis is back: the connection is re-established in the background.
pub struct RedisLedger {
    backend: Backend,
    timeout: Duration,
}

impl fmt::Debug for RedisLedger {
    // The URL may hold a password: show only the kind of backend.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLedger")
            .field("backend", &self.backend.kind())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisLedger {
    /// The URL schemes [`RedisLedger::connect`] accepts (before `://`), so a composition root
    /// picks this adapter without keeping a list of its own.
    pub const SCHEMES: [&'static str; 4] = ["redis", "rediss", "redis+cluster", "rediss+cluster"];

    /// Connects with the default [`RedisOptions`]. See [`RedisLedger::connect_with`].
    pub async fn connect(url: &str) -> Result<RedisLedger> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// Connects to `url`: `redis://host:port` or `rediss://host:port` for one node,
    /// `redis+cluster://host1:port,host2:port` or `rediss+cluster://…` (TLS) for a cluster
    /// (`user:password@` may precede the hosts).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `ledger_url` for a malformed URL or another scheme;
    /// [`Error::Unavailable`] when Redis does not answer within the timeout, or is older
    /// than 5.0.
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<RedisLedger> {
        if options.timeout.is_zero() {
            return Err(Error::invalid("ledger_timeout", "must be more than zero"));
        }
        let target = Target::parse(url, options.timeout)?;
        let backend = settle(
            tokio::time::timeout(options.timeout, target.connect(options.timeout)).await,
            options.timeout,
        )?;
        let ledger = RedisLedger {
            backend,
            timeout: options.timeout,
        };
        ledger.check_version().await?;
        Ok(ledger)
    }

    /// Refuses a Redis older than [`MIN_REDIS_VERSION`]. A server that forbids `INFO` (a
    /// restrictive ACL) is let through with a warning.
    async fn check_version(&self) -> Result<()> {
        let mut cmd = redis::cmd("INFO");
        cmd.arg("server");
        let info = match self.query(&cmd).await {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the Redis version; assuming it is recent");
                return Ok(());
            }
        };
        let mut texts = Vec::new();
        collect_text(&info, &mut texts);
        let oldest = texts.iter().filter_map(|t| redis_version(t)).min();
        match oldest {
            Some(version) if version < MIN_REDIS_VERSION => Err(Error::unavailable(
                Dependency::Ledger,
                format!(
                    "Redis {}.{} is too old: the seat ledger needs Redis {}.{} or newer",
                    version.0, version.1, MIN_REDIS_VERSION.0, MIN_REDIS_VERSION.1
                ),
            )),
            Some(_) => Ok(()),
            None => {
                tracing::warn!("INFO did not name the Redis version; assuming it is recent");
                Ok(())
            }
        }
    }

    /// Runs a script call within the timeout.
    async fn run(&self, invocation: &ScriptInvocation<'_>) -> Result<Value> {
        let call = async {
            match &self.backend {
                Backend::Node(conn) => invocation.invoke_async(&mut conn.clone()).await,
                Backend::Cluster(conn) => invocation.invoke_async(&mut conn.clone()).await,
            }
        };
        settle(tokio::time::timeout(self.timeout, call).await, self.timeout)
    }

    /// Runs a plain command within the timeout.
    async fn query(&self, cmd: &redis::Cmd) -> Result<Value> {
        let call = async {
            match &self.backend {
                Backend::Node(conn) => cmd.query_async(&mut conn.clone()).await,
                Backend::Cluster(conn) => cmd.query_async(&mut conn.clone()).await,
            }
        };
        settle(tokio::time::timeout(self.timeout, call).await, self.timeout)
    }
}

/// The one place a Redis failure becomes a core error: a Redis error (lost connection,
/// refused, `LOADING`, `CLUSTERDOWN`, a failover's `READONLY`, ...) or a call that outlived
/// the timeout is [`Error::Unavailable`] naming the ledger, which the caller may retry.
fn settle<T>(outcome: Result<RedisResult<T>, Elapsed>, timeout: Duration) -> Result<T> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Error::unavailable(
            Dependency::Ledger,
            format!("redis: {e}"),
        )),
        Err(_) => Err(Error::unavailable(
            Dependency::Ledger,
            format!("redis did not answer within {timeout:?}"),
        )),
    }
}

/// A TTL in whole milliseconds, rounded up so a seat never lives shorter than asked.
fn ttl_millis(ttl: Duration) -> Result<u64> {
    positive_millis(ttl, "ttl_seconds")
}

/// A duration in whole milliseconds, more than zero and at most [`MAX_TTL`], rounded up;
/// otherwise invalid input naming `field`.
fn positive_millis(duration: Duration, field: &'static str) -> Result<u64> {
    if duration.is_zero() {
        return Err(Error::invalid(field, "must be more than zero"));
    }
    millis(duration, field)
}

/// A duration in whole milliseconds, at most [`MAX_TTL`], rounded up.
fn millis(duration: Duration, field: &'static str) -> Result<u64> {
    if duration > MAX_TTL {
        return Err(Error::invalid(field, "too large"));
    }
    let millis = duration.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis).map_err(|_| Error::invalid(field, "too large"))
}

/// The person's digest as the scripts take it: 12 bytes, or none.
fn user_arg(user: Option<&UserRef>) -> Vec<u8> {
    user.map(|u| compact::user(u).to_vec()).unwrap_or_default()
}

fn grace_millis() -> u64 {
    u64::try_from(KEY_GRACE.as_millis()).unwrap_or(u64::MAX)
}

/// Every text in an `INFO` reply: one string from a node, a map of them from a cluster.
fn collect_text(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::BulkString(bytes) => out.push(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => out.push(s.clone()),
        Value::VerbatimString { text, .. } => out.push(text.clone()),
        Value::Array(items) | Value::Set(items) => {
            items.iter().for_each(|v| collect_text(v, out));
        }
        Value::Map(pairs) => pairs.iter().for_each(|(_, v)| collect_text(v, out)),
        _ => {}
    }
}

/// `(major, minor)` from the `redis_version:7.0.15` line of an `INFO` text.
fn redis_version(info: &str) -> Option<(u32, u32)> {
    let version = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("redis_version:"))?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// ARGV[12..=16] of `acquire.lua`: priority, mode, wait ms, poll-within ms, max length.
fn queue_args(queue: &QueueRequest) -> Result<(u32, &'static str, u64, u64, u32)> {
    if queue.priority > MAX_PRIORITY {
        return Err(Error::invalid(
            "priority",
            format!("must be at most {MAX_PRIORITY}"),
        ));
    }
    Ok(match queue.mode {
        QueueMode::Pass => (queue.priority, "pass", 0, 0, 0),
        QueueMode::Join {
            wait,
            poll_within,
            max_length,
        } => (
            queue.priority,
            "join",
            millis(wait, "wait_seconds")?,
            millis(poll_within, "poll_within")?,
            max_length,
        ),
        QueueMode::Poll { poll_within } => (
            queue.priority,
            "poll",
            0,
            millis(poll_within, "poll_within")?,
            0,
        ),
        QueueMode::Peek { poll_within } => (
            queue.priority,
            "peek",
            0,
            millis(poll_within, "poll_within")?,
            0,
        ),
    })
}

impl RedisLedger {
    /// `acquire.lua`: an acquire standing in the queue as `queue` says, or with `regrant` a
    /// [`SeatLedger::regrant`] (a plain acquire at priority 0, should the seat be gone).
    async fn take(
        &self,
        key: &LedgerKey,
        request: &SeatRequest,
        regrant: bool,
        queue: &QueueRequest,
    ) -> Result<AcquireOutcome> {
        let (priority, mode, wait, poll_within, max_length) = queue_args(queue)?;
        let keys = LicenseKeys::new(key);
        let mut invocation = scripts::ACQUIRE.prepare_invoke();
        invocation
            .key(&keys.all()[..])
            .arg(&compact::session(request.session_id))
            .arg(&compact::machine(&request.hardware_id))
            .arg(request.limit)
            .arg(ttl_millis(request.ttl)?)
            .arg(grace_millis())
            .arg(user_arg(request.user.as_ref()))
            .arg(request.borrow.map_or(-1, i64::from));
        for arg in tally::args(&request.tally) {
            invocation.arg(arg);
        }
        invocation
            .arg(if regrant { "1" } else { "0" })
            .arg(priority)
            .arg(mode)
            .arg(wait)
            .arg(poll_within)
            .arg(max_length)
            .arg(request.hardware_id.as_str());
        scripts::acquire_outcome(&self.run(&invocation).await?)
    }
}

#[async_trait]
impl SeatLedger for RedisLedger {
    async fn acquire_queued(
        &self,
        key: &LedgerKey,
        request: &SeatRequest,
        queue: &QueueRequest,
    ) -> Result<AcquireOutcome> {
        self.take(key, request, false, queue).await
    }

    async fn leave(&self, key: &LedgerKey, ticket: SessionId) -> Result<bool> {
        let keys = LicenseKeys::new(key);
        let mut invocation = scripts::LEAVE.prepare_invoke();
        invocation
            .key(&keys.queue_keys()[..])
            .arg(&compact::session(ticket));
        scripts::left(&self.run(&invocation).await?)
    }

    async fn queue(&self, key: &LedgerKey, limit: usize) -> Result<Vec<Waiter>> {
        let keys = LicenseKeys::new(key);
        let mut invocation = scripts::QUEUE.prepare_invoke();
        invocation.key(&keys.waiter_keys()[..]).arg(limit);
        scripts::waiters(&self.run(&invocation).await?)
    }

    async fn regrant(&self, key: &LedgerKey, request: &SeatRequest) -> Result<AcquireOutcome> {
        self.take(key, request, true, &QueueRequest::pass(0)).await
    }

    async fn renew(
        &self,
        key: &LedgerKey,
        seat: SeatRef<'_>,
        ttl: Duration,
    ) -> Result<RenewOutcome> {
        let keys = LicenseKeys::new(key);
        let mut invocation = scripts::RENEW.prepare_invoke();
        invocation
            .key(&keys.seat_keys()[..])
            .arg(&compact::session(seat.session_id))
            .arg(&compact::machine(seat.hardware_id))
            .arg(ttl_millis(ttl)?)
            .arg(grace_millis());
        scripts::renew_outcome(&self.run(&invocation).await?)
    }

    async fn release(&self, key: &LedgerKey, seat: SeatRef<'_>) -> Result<()> {
        let keys = LicenseKeys::new(key);
        let mut invocation = scripts::RELEASE.prepare_invoke();
        invocation
            .key(&keys.release_keys()[..])
            .arg(&compact::session(seat.session_id))
            .arg(&compact::machine(seat.hardware_id));
        scripts::released(&self.run(&invocation).await?).map(|_| ())
    }

    async fn live_count(&self, key: &LedgerKey) -> Result<LiveCount> {
        let keys = LicenseKeys::new(key);
        let mut invocation = scripts::LIVE_COUNT.prepare_invoke();
        invocation.key(&keys.init).key(&keys.seats);
        scripts::live_count(&self.run(&invocation).await?)
    }

    async fn evict(&self, key: &LedgerKey, seat: SeatRef<'_>, hold: &Hold) -> Result<()> {
        let keys = LicenseKeys::new(key);
        let mut invocation = scripts::EVICT.prepare_invoke();
        invocation
            .key(&keys.evict_keys()[..])
            .arg(&compact::session(seat.session_id))
            .arg(&compact::machine(seat.hardware_id))
            .arg(user_arg(hold.user.as_ref()))
            .arg(millis(hold.duration, "hold_off_seconds")?)
            .arg(grace_millis())
            .arg(&hold.reason);
        let evicted = scripts::evicted(&self.run(&invocation).await?)?;
        tracing::debug!(
            tenant_id = %key.tenant_id,
            license_id = %key.license_id,
            session_id = %seat.session_id,
            ?evicted,
            "seat ledger eviction"
        );
        Ok(())
    }

    async fn linger(&self, key: &LedgerKey, seat: SeatRef<'_>, linger: Duration) -> Result<bool> {
        let keys = LicenseKeys::new(key);
        let mut invocation = scripts::LINGER.prepare_invoke();
        invocation
            .key(&keys.seat_keys()[..])
            .arg(&compact::session(seat.session_id))
            .arg(&compact::machine(seat.hardware_id))
            .arg(positive_millis(linger, "linger_seconds")?)
            .arg(grace_millis());
        scripts::lingered(&self.run(&invocation).await?)
    }

    async fn rebuild_queued(
        &self,
        key: &LedgerKey,
        seats: &[LiveSeat],
        holds: &[HoldOff],
        tickets: &[QueueTicket],
        poll_within: Duration,
    ) -> Result<RebuildOutcome> {
        let keys = LicenseKeys::new(key);
        let mut invocation = scripts::REBUILD.prepare_invoke();
        // Each hold-off is passed once for its machine and once for its person, if any.
        let parties: usize = holds
            .iter()
            .map(|h| 1 + usize::from(h.user.is_some()))
            .sum();
        invocation
            .key(&keys.all()[..])
            .arg(grace_millis())
            .arg(seats.len())
            .arg(parties)
            .arg(millis(poll_within, "poll_within")?);
        for seat in seats {
            invocation
                .arg(&compact::session(seat.session_id))
                .arg(&compact::machine(&seat.hardware_id))
                .arg(seat.expires_at.timestamp_millis())
                .arg(compact::kind(seat.kind))
                .arg(compact::counters(&seat.counters));
        }
        for hold in holds {
            let until = hold.until.timestamp_millis();
            let machine = compact::machine(&hold.hardware_id);
            let parties = std::iter::once(compact::hold_party(b'm', &machine)).chain(
                hold.user
                    .as_ref()
                    .map(|u| compact::hold_party(b'u', &compact::user(u))),
            );
            for party in parties {
                invocation.arg(&party).arg(until).arg(&hold.reason);
            }
        }
        for ticket in tickets {
            // The ledger numbers arrivals below 2^32 and priorities up to MAX_PRIORITY; a record
            // outside either was not made by it and is left out, not refused with the rest.
            if ticket.priority > MAX_PRIORITY || ticket.arrival >= 1 << 32 {
                tracing::warn!(ticket = %ticket.ticket, "a queue ticket on record is out of range; not restored");
                continue;
            }
            invocation
                .arg(&compact::session(ticket.ticket))
                .arg(&compact::machine(&ticket.seat))
                .arg(ticket.seat.as_str())
                .arg(ticket.priority)
                .arg(ticket.arrival)
                .arg(ticket.wait_until.timestamp_millis());
            for arg in tally::args(&ticket.tally) {
                invocation.arg(arg);
            }
        }
        let (outcome, restored, held_off, queued) =
            scripts::rebuild_outcome(&self.run(&invocation).await?)?;
        tracing::debug!(
            tenant_id = %key.tenant_id,
            license_id = %key.license_id,
            offered = seats.len(),
            restored,
            held_off,
            queued,
            ?outcome,
            "seat ledger rebuild"
        );
        Ok(outcome)
    }

    async fn ping(&self) -> Result<()> {
        self.query(&redis::cmd("PING")).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_to_whole_milliseconds() {
        assert_eq!(ttl_millis(Duration::from_secs(360)).unwrap(), 360_000);
        assert_eq!(ttl_millis(Duration::from_micros(1)).unwrap(), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1_500)).unwrap(), 2);
        assert_eq!(
            ttl_millis(Duration::ZERO).unwrap_err().code(),
            "invalid_input"
        );
        assert_eq!(
            ttl_millis(Duration::MAX).unwrap_err().code(),
            "invalid_input"
        );
    }

    #[test]
    fn a_zero_linger_is_refused_and_a_zero_hold_off_is_none() {
        match positive_millis(Duration::ZERO, "linger_seconds") {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "linger_seconds"),
            other => panic!("{other:?}"),
        }
        assert_eq!(millis(Duration::ZERO, "hold_off_seconds").unwrap(), 0);
        match millis(Duration::MAX, "hold_off_seconds") {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "hold_off_seconds"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn queue_requests_become_the_scripts_arguments() {
        let minute = Duration::from_secs(60);
        assert_eq!(
            queue_args(&QueueRequest::default()).unwrap(),
            (0, "pass", 0, 0, 0)
        );
        let join = QueueRequest {
            priority: MAX_PRIORITY,
            mode: QueueMode::Join {
                wait: 10 * minute,
                poll_within: Duration::from_micros(1_500),
                max_length: 7,
            },
        };
        assert_eq!(queue_args(&join).unwrap(), (1_000, "join", 600_000, 2, 7));
        let poll = QueueRequest {
            priority: 3,
            mode: QueueMode::Poll {
                poll_within: minute,
            },
        };
        assert_eq!(queue_args(&poll).unwrap(), (3, "poll", 0, 60_000, 0));
        match queue_args(&QueueRequest::pass(MAX_PRIORITY + 1)) {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "priority"),
            other => panic!("{other:?}"),
        }
        let endless = QueueRequest {
            priority: 0,
            mode: QueueMode::Join {
                wait: Duration::MAX,
                poll_within: minute,
                max_length: 1,
            },
        };
        match queue_args(&endless) {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "wait_seconds"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_the_version_from_info() {
        let info = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n";
        assert_eq!(redis_version(info), Some((7, 0)));
        assert_eq!(redis_version("# Server\r\n"), None);
        let mut texts = Vec::new();
        let cluster = Value::Map(vec![
            (
                Value::SimpleString("a:1".into()),
                Value::BulkString(b"redis_version:4.0.1".to_vec()),
            ),
            (
                Value::SimpleString("b:2".into()),
                Value::VerbatimString {
                    format: redis::VerbatimFormat::Text,
                    text: info.into(),
                },
            ),
        ]);
        collect_text(&cluster, &mut texts);
        assert_eq!(
            texts.iter().filter_map(|t| redis_version(t)).min(),
            Some((4, 0))
        );
    }

    #[test]
    fn timeouts_and_redis_errors_are_a_retryable_ledger_outage() {
        let io =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let err = settle::<()>(Ok(Err(io)), Duration::from_secs(2)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Unavailable {
                    dependency: Dependency::Ledger,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.is_retryable());
    }
}
