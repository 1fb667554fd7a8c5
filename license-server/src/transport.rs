//! The HTTP/1.1 transport under the poem app: accepting connections up to
//! `server.max_connections` (idle kept-alive connections give their slot up when all are
//! taken), serving each with hyper, cutting slow clients (a request head slower than
//! `server.header_read_timeout_seconds`; a kept-alive connection idle, or a response not
//! taken, for longer than `server.keep_alive_idle_seconds`), and the graceful shutdown. Why it
//! is not poem's own server: ADR 0020.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, Request};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tracing::{debug, info, warn};

use crate::metrics::ConnectionMetrics;

/// The request body: its size limit and its read deadline (a poem middleware).
pub mod body;
/// The open-files limit, raised to fit `server.max_connections`.
pub mod open_files;
/// Where each connection is (a head arriving, a request handled, a response written, idle)
/// and its deadline.
mod watchdog;

use watchdog::{Ended, Tracker, WatchedBody, WatchedIo, supervise};

/// The bounds on connections, from `[server]` (see [`crate::config::ServerConfig`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a request head may take: from the accept, or from the first byte of a
    /// kept-alive connection's next request.
    pub header_read: Duration,
    /// How long a kept-alive connection may wait for the first byte of its next request, and
    /// a client may take to read a response.
    pub keep_alive_idle: Duration,
    /// Most connections open at once; past it idle kept-alive connections are closed, and
    /// the listener is not read until one closes.
    pub max_connections: u32,
    /// How long in-flight requests get after the shutdown signal.
    pub shutdown_grace: Duration,
}

/// What a connection task is told by the accept loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// Serve.
    Serve,
    /// Finish the request in flight, then close (idle connections close at once).
    Drain,
    /// Close now: the grace period is over.
    Abort,
}

/// Accepts on `listener` and serves `endpoint` until `shutdown` completes; then stops
/// accepting, lets in-flight requests finish for at most `limits.shutdown_grace`, closes the
/// rest, and returns once every connection is closed.
pub async fn serve<E>(
    listener: TcpListener,
    endpoint: E,
    limits: ConnectionLimits,
    metrics: ConnectionMetrics,
    shutdown: impl Future<Output = ()>,
) where
    E: Endpoint + 'static,
{
    let endpoint = Arc::new(endpoint);
    let local = listener
        .local_addr()
        .map(|addr| LocalAddr(addr.into()))
        .unwrap_or_default();
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max as usize));
    let (stop, stopped) = watch::channel(Stop::Serve);
    let mut http = http1::Builder::new();
    // The watchdog owns the head deadline: hyper's own runs from the end of the previous
    // response, so it would also cut idle kept-alive connections at the head timeout.
    http.keep_alive(true).header_read_timeout(None);
    let connections = Connections {
        endpoint,
        http,
        local,
        limits,
        metrics,
        stopped,
        shed: Arc::new(Notify::new()),
    };

    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = take_slot(&slots, &connections) => slot,
        };
        let Some(slot) = slot else { break };
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(stream, peer, Slot::new(slot, connections.metrics.clone()));
                }
                Err(e) => accept_failed(&e).await,
            },
        }
    }
    // Stop accepting: the listening socket closes, new connections are refused.
    drop(listener);
    info!(
        grace_seconds = limits.shutdown_grace.as_secs(),
        "shutting down: finishing in-flight requests"
    );
    let _ = stop.send(Stop::Drain);
    let everyone = || slots.acquire_many(max);
    if tokio::time::timeout(limits.shutdown_grace, everyone())
        .await
        .is_err()
    {
        warn!("grace period over: closing the connections still open");
        let _ = stop.send(Stop::Abort);
        let _ = everyone().await;
    }
}

/// A free connection slot: at once, or once a connection closes. `None` only if the
/// semaphore was closed, which nothing does.
async fn take_slot<E>(
    slots: &Arc<Semaphore>,
    connections: &Connections<E>,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = slots.clone().try_acquire_owned() {
        return Some(permit);
    }
    // Backpressure: the listener is not read, so new connections wait in the kernel's listen
    // queue (or are refused by it when that is full) until a slot frees. Idle kept-alive
    // connections give theirs up at once (as nginx reuses its keep-alive connections), and
    // the timeouts free the others: a slow client holds one at most `header_read`.
    connections.metrics.limit_reached();
    debug!("server.max_connections reached: closing idle connections, waiting for a slot");
    connections.shed.notify_waiters();
    slots.clone().acquire_owned().await.ok()
}

/// An accept that failed. A connection reset before its accept is the client's business;
/// anything else (out of file descriptors) gets a pause, so the loop does not spin.
async fn accept_failed(e: &io::Error) {
    match e.kind() {
        io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::Interrupted => debug!(error = %e, "accept failed"),
        _ => {
            warn!(error = %e, "accept failed; pausing 100 ms");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One connection's hold on `server.max_connections`, counted in the open-connections gauge
/// until it drops (also when its task panics).
struct Slot {
    _permit: OwnedSemaphorePermit,
    metrics: ConnectionMetrics,
}

impl Slot {
    fn new(permit: OwnedSemaphorePermit, metrics: ConnectionMetrics) -> Self {
        metrics.opened();
        Self {
            _permit: permit,
            metrics,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.closed();
    }
}

/// What every connection task shares.
struct Connections<E> {
    endpoint: Arc<E>,
    http: http1::Builder,
    local: LocalAddr,
    limits: ConnectionLimits,
    metrics: ConnectionMetrics,
    stopped: watch::Receiver<Stop>,
    /// Told when every slot is taken: idle connections close.
    shed: Arc<Notify>,
}

impl<E: Endpoint + 'static> Connections<E> {
    fn spawn(&self, stream: TcpStream, peer: SocketAddr, slot: Slot) {
        let _ = stream.set_nodelay(true);
        let tracker = Arc::new(Tracker::new());
        let endpoint = self.endpoint.clone();
        let local = self.local.clone();
        let remote = RemoteAddr(peer.into());
        let service = {
            let tracker = tracker.clone();
            let remote = remote.clone();
            service_fn(move |req: hyper::Request<Incoming>| {
                tracker.request_started();
                let endpoint = endpoint.clone();
                let request = Request::from((req, local.clone(), remote.clone(), Scheme::HTTP));
                let tracker = tracker.clone();
                async move {
                    let response: hyper::Response<BoxBody<Bytes, io::Error>> =
                        endpoint.get_response(request).await.into();
                    tracker.response_ready();
                    Ok::<_, Infallible>(response.map(|body| WatchedBody::new(body, tracker)))
                }
            })
        };
        let io = TokioIo::new(WatchedIo::new(stream, tracker.clone()));
        let conn = self.http.serve_connection(io, service);
        let limits = self.limits;
        let metrics = self.metrics.clone();
        let mut stopped = self.stopped.clone();
        let shed = self.shed.clone();
        tokio::spawn(async move {
            let _slot = slot;
            tokio::pin!(conn);
            loop {
                tokio::select! {
                    ended = supervise(conn.as_mut(), &tracker, &limits) => {
                        if let Ended::TimedOut(phase) = ended {
                            debug!(remote_addr = %remote, phase = phase.name(), "slow client cut");
                            metrics.cut(phase.name());
                        }
                        return;
                    }
                    // Gracefully: a response still being flushed is finished first.
                    () = shed.notified() => if tracker.is_idle() {
                        metrics.cut("shed");
                        conn.as_mut().graceful_shutdown();
                    },
                    changed = stopped.changed() => match changed.map(|()| *stopped.borrow_and_update()) {
                        Ok(Stop::Serve) => {}
                        Ok(Stop::Drain) => conn.as_mut().graceful_shutdown(),
                        Ok(Stop::Abort) | Err(_) => return,
                    },
                }
            }
        });
    }
}
