//! [`SeatGuard`]: holds a seat for as long as it lives. A background task heartbeats at the
//! interval the server gave, rides out outages on the offline lease (grace period bounded by
//! the token's `exp`), acquires again after a lost session when allowed, stops for good when
//! evicted, and releases on drop. Its state is a `tokio::sync::watch`, so a loss is
//! observable without polling.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

use crate::api::{AcquireRequest, Lease, QueuePlace, Released};
use crate::client::{Client, Result};
use crate::error::Error;
use crate::verify::Verifier;

/// How a [`SeatGuard`] behaves when things go wrong.
#[derive(Debug, Clone)]
pub struct GuardOptions {
    /// Acquire again after the session was lost (expired or unknown to the server: a
    /// heartbeat answered 410 `session_expired` or 404). Never after an eviction. Default on.
    pub reacquire: bool,
    /// How long the seat counts as held while the server cannot be reached; none: until the
    /// lease token expires. Always bounded by the token's `exp`.
    pub grace: Option<Duration>,
    /// Verifies every lease token received (acquire, heartbeat) offline; a token that fails
    /// loses the seat with [`Error::InvalidToken`].
    pub verifier: Option<Verifier>,
}

impl Default for GuardOptions {
    fn default() -> Self {
        Self {
            reacquire: true,
            grace: None,
            verifier: None,
        }
    }
}

/// What a [`SeatGuard`] holds right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatState {
    /// The seat is held; the last heartbeat (or the acquire) succeeded.
    Held {
        /// The session holding it.
        session_id: String,
        /// When the lease expires unless renewed.
        expires_at: DateTime<Utc>,
    },
    /// The server cannot be reached; the seat counts as held on the offline lease until
    /// `until` (the grace period, never past the token's `exp`).
    Offline {
        /// The session holding it.
        session_id: String,
        /// When the outage began (the first failed heartbeat).
        since: DateTime<Utc>,
        /// When the seat is lost unless the server answers.
        until: DateTime<Utc>,
        /// The last cause.
        reason: String,
    },
    /// The session was lost (expired on the server); a new seat is being acquired.
    Reacquiring {
        /// Why the session was lost.
        reason: String,
    },
    /// The seat is lost for good: stop using the licensed feature. [`Error::Evicted`] when an
    /// administrator evicted the session.
    Lost(Error),
    /// Released by the application.
    Released,
}

impl SeatState {
    /// Whether the application may use the licensed feature now (`Held` or `Offline`).
    pub fn is_held(&self) -> bool {
        matches!(self, SeatState::Held { .. } | SeatState::Offline { .. })
    }
}

/// Why the background task stops.
#[derive(Debug)]
enum Stop {
    /// The guard was dropped: release the seat on the way out.
    Release,
    /// [`SeatGuard::release`] releases it itself.
    Quiet,
}

/// Holds a seat: acquire with [`SeatGuard::acquire`], watch [`state`](Self::state) or
/// [`subscribe`](Self::subscribe), and [`release`](Self::release) (or drop) when done. A
/// drop releases from the background task, which needs the runtime to keep running; prefer
/// `release().await` before a runtime shuts down. A seat that is never released frees
/// itself at its TTL.
#[derive(Debug)]
pub struct SeatGuard {
    client: Client,
    lease: Arc<Mutex<Lease>>,
    state: watch::Receiver<SeatState>,
    stop: Option<oneshot::Sender<Stop>>,
    task: Option<JoinHandle<()>>,
}

impl SeatGuard {
    /// Acquires a seat and starts heartbeating. Errors are the acquire's (e.g.
    /// [`Error::NoSeats`], [`Error::Evicted`]) or [`Error::InvalidToken`] when the
    /// `verifier` refuses the lease (the seat is released again).
    pub async fn acquire(
        client: Client,
        request: AcquireRequest,
        options: GuardOptions,
    ) -> Result<Self> {
        let lease = client.acquire(&request).await?;
        Self::hold(client, request, lease, options).await
    }

    /// [`acquire`](Self::acquire), waiting up to `max_wait` in the license's queue when no
    /// seat is free ([`Client::wait_for_seat`]: `on_queued` hears of each new position; the
    /// place is given up when the wait ends, [`Error::WaitEnded`], or the future is dropped).
    /// Once seated it holds the seat like any guard; a re-acquire after a lost session does
    /// not wait.
    ///
    /// ```no_run
    /// # async fn demo(client: license_client::Client) -> Result<(), license_client::Error> {
    /// use std::time::Duration;
    /// use license_client::{AcquireRequest, GuardOptions, SeatGuard};
    ///
    /// let request = AcquireRequest::new("CADPRO-7QX2M-9KD4P-VTH8W", "workstation-7");
    /// let guard = SeatGuard::acquire_waiting(
    ///     client,
    ///     request,
    ///     GuardOptions::default(),
    ///     Duration::from_secs(600),
    ///     |place| eprintln!("waiting for a seat: position {}", place.position),
    /// )
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn acquire_waiting(
        client: Client,
        mut request: AcquireRequest,
        options: GuardOptions,
        max_wait: Duration,
        on_queued: impl FnMut(&QueuePlace),
    ) -> Result<Self> {
        let lease = client.wait_for_seat(&request, max_wait, on_queued).await?;
        // The re-acquire after a lost session asks plainly.
        request.wait_seconds = None;
        request.queue_ticket = None;
        Self::hold(client, request, lease, options).await
    }

    /// Holds `lease` (acquired for `request`): checks it, starts heartbeating.
    async fn hold(
        client: Client,
        request: AcquireRequest,
        lease: Lease,
        options: GuardOptions,
    ) -> Result<Self> {
        if let Some(verifier) = &options.verifier
            && let Err(e) = verifier.verify(&lease.token, Utc::now())
        {
            let _ = client
                .release(&lease.session_id, lease.session_secret.as_deref())
                .await;
            return Err(e);
        }
        let (tx, rx) = watch::channel(SeatState::Held {
            session_id: lease.session_id.clone(),
            expires_at: lease.expires_at,
        });
        let lease = Arc::new(Mutex::new(lease));
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(
            Keeper {
                client: client.clone(),
                request,
                options,
                lease: Arc::clone(&lease),
                state: tx,
                offline_since: None,
                need_acquire: false,
            }
            .run(stop_rx),
        );
        Ok(Self {
            client,
            lease,
            state: rx,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// The state now.
    pub fn state(&self) -> SeatState {
        self.state.borrow().clone()
    }

    /// A receiver of every state change (`changed().await`).
    pub fn subscribe(&self) -> watch::Receiver<SeatState> {
        self.state.clone()
    }

    /// The current lease (session, token, expiry); after a re-acquire, the new one.
    pub fn lease(&self) -> Lease {
        self.lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The current lease token.
    pub fn token(&self) -> String {
        self.lease().token
    }

    /// The current session id.
    pub fn session_id(&self) -> String {
        self.lease().session_id
    }

    /// Stops heartbeating and releases the seat; the release's answer. A seat already lost
    /// (evicted, expired) is not released again: `Ok(None)`.
    pub async fn release(mut self) -> Result<Option<Released>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(Stop::Quiet);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if matches!(*self.state.borrow(), SeatState::Lost(_)) {
            return Ok(None);
        }
        let lease = self.lease();
        self.client
            .release(&lease.session_id, lease.session_secret.as_deref())
            .await
            .map(Some)
    }
}

impl Drop for SeatGuard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The task releases; if the runtime is gone, the seat frees itself at its TTL.
            let _ = stop.send(Stop::Release);
        }
    }
}

/// The background task's state.
struct Keeper {
    client: Client,
    request: AcquireRequest,
    options: GuardOptions,
    lease: Arc<Mutex<Lease>>,
    state: watch::Sender<SeatState>,
    offline_since: Option<DateTime<Utc>>,
    /// The session is gone: the next step acquires instead of heartbeating.
    need_acquire: bool,
}

/// What one step decided.
enum Next {
    /// Step again after this long.
    After(Duration),
    /// The seat is lost for good.
    Stop,
}

impl Keeper {
    fn current(&self) -> Lease {
        self.lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.current().heartbeat_interval_seconds.max(1)))
    }

    async fn run(mut self, mut stop: oneshot::Receiver<Stop>) {
        let mut next = Instant::now() + self.interval();
        loop {
            tokio::select! {
                why = &mut stop => {
                    // A dropped sender counts as a drop of the guard.
                    if !matches!(why, Ok(Stop::Quiet)) && !self.need_acquire {
                        let lease = self.current();
                        let _ = self.client.release(&lease.session_id, lease.session_secret.as_deref()).await;
                        self.state.send_replace(SeatState::Released);
                    }
                    return;
                }
                () = sleep_until(next) => {}
            }
            match self.step().await {
                Next::After(wait) => next = Instant::now() + wait,
                Next::Stop => return,
            }
        }
    }

    /// One heartbeat (or re-acquire), and the state it leads to.
    async fn step(&mut self) -> Next {
        if self.need_acquire {
            return self.reacquire().await;
        }
        let lease = self.current();
        match self
            .client
            .heartbeat(&lease.session_id, lease.session_secret.as_deref())
            .await
        {
            Ok(renewed) => {
                if let Err(e) = self.check(&renewed.token) {
                    return self.lose(e);
                }
                {
                    let mut held = self.lease.lock().unwrap_or_else(PoisonError::into_inner);
                    held.token = renewed.token;
                    held.expires_at = renewed.expires_at;
                }
                self.offline_since = None;
                self.state.send_replace(SeatState::Held {
                    session_id: lease.session_id,
                    expires_at: renewed.expires_at,
                });
                Next::After(self.interval())
            }
            Err(e @ Error::SessionLost { .. }) if self.options.reacquire => {
                self.need_acquire = true;
                self.state.send_replace(SeatState::Reacquiring {
                    reason: e.to_string(),
                });
                self.reacquire().await
            }
            Err(e @ (Error::ServerUnavailable { .. } | Error::BadResponse(_))) => {
                self.offline(&lease, e)
            }
            Err(e) => self.lose(e),
        }
    }

    /// Acquire again (idempotent per machine); until it works, the old token's validity
    /// bounds how long to keep trying.
    async fn reacquire(&mut self) -> Next {
        match self.client.acquire(&self.request).await {
            Ok(lease) => {
                if let Err(e) = self.check(&lease.token) {
                    return self.lose(e);
                }
                self.need_acquire = false;
                self.offline_since = None;
                let held = SeatState::Held {
                    session_id: lease.session_id.clone(),
                    expires_at: lease.expires_at,
                };
                // The lease first: whoever sees the new state finds the new lease.
                *self.lease.lock().unwrap_or_else(PoisonError::into_inner) = lease;
                self.state.send_replace(held);
                Next::After(self.interval())
            }
            Err(
                e @ (Error::NoSeats { .. }
                | Error::ServerUnavailable { .. }
                | Error::BadResponse(_)),
            ) if Utc::now() < self.current().expires_at => {
                let wait = match &e {
                    Error::NoSeats {
                        retry_after: Some(after),
                        ..
                    } => (*after).max(self.interval()),
                    _ => self.interval(),
                };
                self.state.send_replace(SeatState::Reacquiring {
                    reason: e.to_string(),
                });
                Next::After(wait)
            }
            Err(e) => self.lose(e),
        }
    }

    /// A heartbeat without an answer: keep the seat on the offline lease within the grace
    /// period, then lose it.
    fn offline(&mut self, lease: &Lease, e: Error) -> Next {
        let now = Utc::now();
        let since = *self.offline_since.get_or_insert(now);
        let mut until = lease.expires_at;
        if let Some(grace) = self.options.grace
            && let Ok(grace) = chrono::TimeDelta::from_std(grace)
        {
            until = until.min(since + grace);
        }
        // With a verifier, the token itself must still verify now (a clock that jumped past
        // `exp` ends the grace period).
        let token_ok = self
            .options
            .verifier
            .as_ref()
            .is_none_or(|v| v.verify(&lease.token, now).is_ok());
        if now >= until || !token_ok {
            return self.lose(e);
        }
        self.state.send_replace(SeatState::Offline {
            session_id: lease.session_id.clone(),
            since,
            until,
            reason: e.to_string(),
        });
        let left = (until - now).to_std().unwrap_or_default();
        Next::After(self.interval().min(left.max(Duration::from_millis(50))))
    }

    fn check(&self, token: &str) -> Result<()> {
        match &self.options.verifier {
            Some(verifier) => verifier.verify(token, Utc::now()).map(drop),
            None => Ok(()),
        }
    }

    fn lose(&mut self, e: Error) -> Next {
        self.state.send_replace(SeatState::Lost(e));
        // Nothing to release on drop: the seat is gone (or was never confirmed again).
        self.need_acquire = true;
        Next::Stop
    }
}
