//! A connection's phase and the deadline that goes with it, as Go's and Envoy's servers
//! have them: a request head must arrive within `header_read` of the accept, or of the first
//! byte of a kept-alive connection's next request; a kept-alive connection may wait
//! `keep_alive_idle` for that first byte, and a client gets as long to take a response; while
//! a request is handled there is no connection deadline (its body has its own, in `body`).
//! hyper has one timer for the idle wait and the head together (ADR 0020).
//!
//! The socket ([`WatchedIo`]), the service and the response body ([`WatchedBody`]) move the
//! phase; all three run inside the connection future, so [`supervise`] reads a fresh phase
//! each time it has polled that future.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};

use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::ConnectionLimits;

/// Where a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// A request head is due: the connection is new, or bytes of its next request came.
    Head,
    /// A request is being handled.
    Busy,
    /// Its response is being written (the client has to read it).
    Writing,
    /// Kept alive between requests, nothing of the next one yet.
    Idle,
}

impl Phase {
    /// The reason a connection cut in this phase is counted under
    /// (`license_http_connections_cut`).
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Head => "header",
            Self::Busy => "busy",
            // Waiting on the client either way: a response hyper has taken from its body but
            // not yet flushed counts as idle already.
            Self::Writing | Self::Idle => "idle",
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Head,
            1 => Self::Busy,
            2 => Self::Writing,
            _ => Self::Idle,
        }
    }
}

/// A connection's phase and when it began. Atomics only so the connection task stays
/// `Send`: every access is on that one task.
#[derive(Debug)]
pub(super) struct Tracker {
    opened: Instant,
    phase: AtomicU8,
    /// When the phase began, in nanoseconds since `opened`.
    since: AtomicU64,
}

impl Tracker {
    /// A new connection: its first head is due from now.
    pub(super) fn new() -> Self {
        Self {
            opened: Instant::now(),
            phase: AtomicU8::new(Phase::Head as u8),
            since: AtomicU64::new(0),
        }
    }

    /// Whether the connection waits for its next request (so closing it loses nothing).
    pub(super) fn is_idle(&self) -> bool {
        self.phase() == Phase::Idle
    }

    fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    fn enter(&self, phase: Phase) {
        let nanos = u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.since.store(nanos, Ordering::Relaxed);
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    /// Bytes came from the client: on an idle connection, the next head has begun.
    fn bytes_arrived(&self) {
        if self.phase() == Phase::Idle {
            self.enter(Phase::Head);
        }
    }

    /// hyper parsed a head and called the service.
    pub(super) fn request_started(&self) {
        self.enter(Phase::Busy);
    }

    /// The endpoint answered: hyper writes the response from now.
    pub(super) fn response_ready(&self) {
        self.enter(Phase::Writing);
    }

    /// hyper is done with a response body (written, or the connection is going).
    fn response_done(&self) {
        self.enter(Phase::Idle);
    }

    /// The phase and when it ends, if it has an end.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<(Phase, Instant)> {
        let phase = self.phase();
        let allowed = match phase {
            Phase::Head => limits.header_read,
            Phase::Idle | Phase::Writing => limits.keep_alive_idle,
            Phase::Busy => return None,
        };
        let since = std::time::Duration::from_nanos(self.since.load(Ordering::Relaxed));
        Some((phase, self.opened + since + allowed))
    }
}

/// How a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ended {
    /// The connection finished (the client closed, or hyper did after `Connection: close`).
    Closed,
    /// Its phase outlived its deadline; the caller drops the connection.
    TimedOut(Phase),
}

/// Drives `conn` until it finishes or its phase's deadline passes.
pub(super) async fn supervise<C: Future>(
    mut conn: Pin<&mut C>,
    tracker: &Tracker,
    limits: &ConnectionLimits,
) -> Ended {
    let sleep = tokio::time::sleep_until(Instant::now() + limits.header_read);
    tokio::pin!(sleep);
    let mut armed = None;
    poll_fn(|cx| {
        if conn.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ended::Closed);
        }
        let Some((phase, at)) = tracker.deadline(limits) else {
            return Poll::Pending;
        };
        if armed != Some(at) {
            sleep.as_mut().reset(at);
            armed = Some(at);
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Ended::TimedOut(phase)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// The client's socket, telling the tracker when bytes arrive.
pub(super) struct WatchedIo<T> {
    inner: T,
    tracker: Arc<Tracker>,
}

impl<T> WatchedIo<T> {
    pub(super) fn new(inner: T, tracker: Arc<Tracker>) -> Self {
        Self { inner, tracker }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.tracker.bytes_arrived();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A response body that marks the connection idle when hyper drops it: after its last
/// frame is written (hyper reads the next head only after that), or when the connection goes.
pub(super) struct WatchedBody<B> {
    inner: B,
    tracker: Arc<Tracker>,
}

impl<B> WatchedBody<B> {
    pub(super) fn new(inner: B, tracker: Arc<Tracker>) -> Self {
        Self { inner, tracker }
    }
}

impl<B> Drop for WatchedBody<B> {
    fn drop(&mut self) {
        self.tracker.response_done();
    }
}

impl<B: Body + Unpin> Body for WatchedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_read: Duration::from_secs(10),
            keep_alive_idle: Duration::from_secs(75),
            max_connections: 1,
            shutdown_grace: Duration::from_secs(1),
        }
    }

    /// Runs `step` and returns the phase it leads to, whose start (its deadline less
    /// `allowed` seconds) must fall within the call.
    fn starts_during(tracker: &Tracker, step: impl FnOnce(&Tracker), allowed: u64) -> Phase {
        let before = Instant::now();
        step(tracker);
        let after = Instant::now();
        let (phase, at) = tracker.deadline(&limits()).unwrap();
        let began = at - Duration::from_secs(allowed);
        assert!(before <= began && began <= after, "{phase:?}");
        phase
    }

    #[test]
    fn each_phase_has_its_own_deadline() {
        let tracker = Tracker::new();
        assert_eq!(
            tracker.deadline(&limits()),
            Some((Phase::Head, tracker.opened + Duration::from_secs(10))),
            "a new connection owes its head within header_read of the accept"
        );
        tracker.request_started();
        assert_eq!(tracker.deadline(&limits()), None, "no deadline while busy");
        let writing = starts_during(&tracker, Tracker::response_ready, 75);
        assert_eq!(
            writing,
            Phase::Writing,
            "keep_alive_idle to take the response"
        );
        let idle = starts_during(&tracker, Tracker::response_done, 75);
        assert_eq!(
            idle,
            Phase::Idle,
            "kept alive: keep_alive_idle from the response"
        );
        tracker.bytes_arrived();
        let head = tracker.deadline(&limits());
        assert_eq!(head.map(|(phase, _)| phase), Some(Phase::Head));
        std::thread::sleep(Duration::from_millis(5));
        tracker.bytes_arrived();
        assert_eq!(
            tracker.deadline(&limits()),
            head,
            "more bytes of the same head do not move its deadline"
        );
        tracker.request_started();
        tracker.response_done();
        let next = starts_during(&tracker, Tracker::bytes_arrived, 10);
        assert_eq!(
            next,
            Phase::Head,
            "header_read from the first byte after idle"
        );
    }
}
