//! The blocking facade, for applications without an async runtime (and for the C ABI): the
//! same client and [`SeatGuard`](crate::SeatGuard) on a small runtime of its own (one worker
//! thread, which also runs the guards' heartbeats between calls). Like `reqwest::blocking`,
//! do not call it from inside an async runtime.

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::api::{
    AcquireRequest, Acquired, BorrowRequest, Lease, QueuePlace, Released, Renewed, Returned,
    Validated,
};
use crate::client::Result;
use crate::error::Error;
use crate::guard::{GuardOptions, SeatState};

/// A blocking [`Client`](crate::Client). Cheap to clone; clones share the runtime.
#[derive(Debug, Clone)]
pub struct Client {
    runtime: Arc<Runtime>,
    inner: crate::Client,
}

impl Client {
    /// A client of the server at `base_url` with `credential` and the defaults.
    pub fn new(base_url: &str, credential: &str) -> Result<Self> {
        Self::from_async(crate::Client::new(base_url, credential)?)
    }

    /// Wraps an async client built with [`Client::builder`](crate::Client::builder).
    pub fn from_async(inner: crate::Client) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("license-client")
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start the client's runtime: {e}")))?;
        Ok(Self {
            runtime: Arc::new(runtime),
            inner,
        })
    }

    /// The async client inside.
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// See [`Client::acquire`](crate::Client::acquire).
    pub fn acquire(&self, request: &AcquireRequest) -> Result<Lease> {
        self.runtime.block_on(self.inner.acquire(request))
    }

    /// See [`Client::acquire_or_wait`](crate::Client::acquire_or_wait).
    pub fn acquire_or_wait(&self, request: &AcquireRequest) -> Result<Acquired> {
        self.runtime.block_on(self.inner.acquire_or_wait(request))
    }

    /// See [`Client::leave_queue`](crate::Client::leave_queue).
    pub fn leave_queue(&self, license_key: &str, ticket: &str) -> Result<bool> {
        self.runtime
            .block_on(self.inner.leave_queue(license_key, ticket))
    }

    /// See [`Client::wait_for_seat`](crate::Client::wait_for_seat); `on_queued` runs on the
    /// calling thread.
    pub fn wait_for_seat(
        &self,
        request: &AcquireRequest,
        max_wait: Duration,
        on_queued: impl FnMut(&QueuePlace),
    ) -> Result<Lease> {
        let _entered = self.runtime.enter();
        self.runtime
            .block_on(self.inner.wait_for_seat(request, max_wait, on_queued))
    }

    /// See [`Client::heartbeat`](crate::Client::heartbeat).
    pub fn heartbeat(&self, session_id: &str, secret: Option<&str>) -> Result<Renewed> {
        self.runtime
            .block_on(self.inner.heartbeat(session_id, secret))
    }

    /// See [`Client::release`](crate::Client::release).
    pub fn release(&self, session_id: &str, secret: Option<&str>) -> Result<Released> {
        self.runtime
            .block_on(self.inner.release(session_id, secret))
    }

    /// See [`Client::validate`](crate::Client::validate).
    pub fn validate(&self, token: &str) -> Result<Validated> {
        self.runtime.block_on(self.inner.validate(token))
    }

    /// See [`Client::borrow`](crate::Client::borrow).
    pub fn borrow(&self, request: &BorrowRequest) -> Result<Lease> {
        self.runtime.block_on(self.inner.borrow(request))
    }

    /// See [`Client::return_borrowed`](crate::Client::return_borrowed).
    pub fn return_borrowed(&self, session_id: &str, secret: Option<&str>) -> Result<Returned> {
        self.runtime
            .block_on(self.inner.return_borrowed(session_id, secret))
    }

    /// See [`Client::tenant_key_set`](crate::Client::tenant_key_set).
    pub fn tenant_key_set(&self, tenant_id: &str) -> Result<serde_json::Value> {
        self.runtime.block_on(self.inner.tenant_key_set(tenant_id))
    }

    /// Acquires a seat and holds it with a [`SeatGuard`] (heartbeats on the client's runtime).
    pub fn hold(&self, request: AcquireRequest, options: GuardOptions) -> Result<SeatGuard> {
        let _entered = self.runtime.enter();
        let guard = self.runtime.block_on(crate::SeatGuard::acquire(
            self.inner.clone(),
            request,
            options,
        ))?;
        Ok(SeatGuard {
            runtime: Arc::clone(&self.runtime),
            inner: Some(guard),
        })
    }

    /// [`hold`](Self::hold), waiting up to `max_wait` in the license's queue for the seat
    /// (see [`SeatGuard::acquire_waiting`](crate::SeatGuard::acquire_waiting)).
    pub fn hold_waiting(
        &self,
        request: AcquireRequest,
        options: GuardOptions,
        max_wait: Duration,
        on_queued: impl FnMut(&QueuePlace),
    ) -> Result<SeatGuard> {
        let _entered = self.runtime.enter();
        let guard = self.runtime.block_on(crate::SeatGuard::acquire_waiting(
            self.inner.clone(),
            request,
            options,
            max_wait,
            on_queued,
        ))?;
        Ok(SeatGuard {
            runtime: Arc::clone(&self.runtime),
            inner: Some(guard),
        })
    }
}

/// A blocking [`SeatGuard`](crate::SeatGuard): releases (and waits for the answer) on drop.
#[derive(Debug)]
pub struct SeatGuard {
    runtime: Arc<Runtime>,
    inner: Option<crate::SeatGuard>,
}

impl SeatGuard {
    fn guard(&self) -> Result<&crate::SeatGuard> {
        self.inner
            .as_ref()
            .ok_or_else(|| Error::Config("the seat was released".into()))
    }

    /// The state now ([`SeatState::Released`] once released).
    pub fn state(&self) -> SeatState {
        self.guard()
            .map_or(SeatState::Released, crate::SeatGuard::state)
    }

    /// A receiver of state changes (poll with `has_changed`, or wait with
    /// [`wait_for_change`](Self::wait_for_change)).
    pub fn subscribe(&self) -> Result<watch::Receiver<SeatState>> {
        Ok(self.guard()?.subscribe())
    }

    /// Waits up to `timeout` for the state to change; the state then.
    pub fn wait_for_change(&self, timeout: Duration) -> SeatState {
        let Ok(mut changes) = self.subscribe() else {
            return SeatState::Released;
        };
        changes.mark_unchanged();
        let _ = self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, changes.changed()).await });
        self.state()
    }

    /// Calls `on_change` with every new state, on the client's runtime thread, until the
    /// seat is lost or released (the C ABI's callback). Keep it short: it delays the next
    /// notification, not the heartbeats.
    pub fn on_change(&self, on_change: impl Fn(&SeatState) + Send + 'static) -> Result<()> {
        let mut changes = self.subscribe()?;
        changes.mark_unchanged();
        self.runtime.spawn(async move {
            while changes.changed().await.is_ok() {
                let state = changes.borrow_and_update().clone();
                on_change(&state);
            }
        });
        Ok(())
    }

    /// The current lease.
    pub fn lease(&self) -> Result<Lease> {
        Ok(self.guard()?.lease())
    }

    /// Releases the seat now; the release's answer (`None`: the seat was lost already).
    pub fn release(mut self) -> Result<Option<Released>> {
        self.release_now()
    }

    fn release_now(&mut self) -> Result<Option<Released>> {
        match self.inner.take() {
            Some(guard) => self.runtime.block_on(guard.release()),
            None => Ok(None),
        }
    }
}

impl Drop for SeatGuard {
    fn drop(&mut self) {
        // Errors are moot here: the seat frees itself at its TTL.
        let _ = self.release_now();
    }
}
