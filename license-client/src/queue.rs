//! Waiting for a seat in a license's queue (ADR 0029): an acquire with `wait_seconds` may be
//! answered 202 with a ticket and its position; the client polls by sending the same acquire
//! with the ticket every `poll_after_seconds` (a ticket not polled within
//! `poll_within_seconds` is dropped), until its turn comes (200: the lease, whose session is
//! the ticket) or the wait ends (410 `queue_ticket_gone`). [`Client::wait_for_seat`] does all
//! of that, and gives the place up again when it stops early.

use std::time::Duration;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use tokio::time::{Instant, sleep_until};

use crate::api::{AcquireRequest, Acquired, Lease, LeaveQueueRequest, LeftQueue, QueuePlace};
use crate::client::{Client, Result, json};
use crate::error::Error;

/// The longest wait the server accepts (`wait_seconds`), one day.
pub const MAX_WAIT: Duration = Duration::from_secs(86_400);

/// The shortest pause between two polls, whatever the server says.
const MIN_POLL: Duration = Duration::from_secs(1);

impl Client {
    /// Asks for a seat, waiting in the license's queue when `request.wait_seconds` says so
    /// and none is free: [`Acquired::Lease`] (200), or [`Acquired::Queued`] (202) with the
    /// ticket to poll. A poll is the same request with `queue_ticket` set (its
    /// `wait_seconds` is ignored: the wait is the one it joined with). Errors: those of
    /// [`acquire`](Self::acquire); a full queue is [`Error::NoSeats`] with `limit`
    /// `queue_full`, a polled ticket that is gone [`Error::TicketGone`].
    pub async fn acquire_or_wait(&self, request: &AcquireRequest) -> Result<Acquired> {
        let (status, bytes) = self
            .send(
                Method::POST,
                &["api", "v1", "licenses", "acquire"],
                Some(request),
                true,
            )
            .await?;
        if status == StatusCode::ACCEPTED {
            json(&bytes).map(Acquired::Queued)
        } else {
            json(&bytes).map(Acquired::Lease)
        }
    }

    /// Stops waiting (`POST /api/v1/licenses/queue/leave`): the place goes to the next in
    /// line. `false` when the ticket was not waiting any more (idempotent).
    pub async fn leave_queue(&self, license_key: &str, ticket: &str) -> Result<bool> {
        let left: LeftQueue = self
            .post(
                &["api", "v1", "licenses", "queue", "leave"],
                &LeaveQueueRequest {
                    license_key,
                    queue_ticket: ticket,
                },
            )
            .await?;
        Ok(left.left)
    }

    /// Takes a seat, waiting up to `max_wait` (at most [`MAX_WAIT`]; the license's
    /// `max_wait_seconds` may cut it) in the license's queue for one: joins, polls at the
    /// pace the server asks, calls `on_queued` with the place when first queued and each time
    /// the position (or the ticket) changes, and returns the lease when the turn comes.
    ///
    /// A place lost before the wait ends (the server's seat ledger lost its state, or an
    /// outage outlasted the poll window: 410 `queue_ticket_gone`) is taken again at the end of
    /// the queue, for what is left of the wait; the server being unreachable is ridden out
    /// for as long as the ticket lives. Stopping early gives the place up: when the wait ends
    /// ([`Error::WaitEnded`]), on an error, and when the future is dropped (the leave is then
    /// sent from a task on the current runtime, best-effort; a place nobody polls lapses
    /// after `poll_within_seconds` anyway). A `max_wait` under a second, or a license without
    /// a queue, makes it a plain [`acquire`](Self::acquire) (a full license:
    /// [`Error::NoSeats`]).
    ///
    /// ```no_run
    /// # async fn demo(client: license_client::Client) -> Result<(), license_client::Error> {
    /// use std::time::Duration;
    /// use license_client::AcquireRequest;
    ///
    /// let request = AcquireRequest::new("CADPRO-7QX2M-9KD4P-VTH8W", "workstation-7");
    /// let lease = client
    ///     .wait_for_seat(&request, Duration::from_secs(600), |place| {
    ///         eprintln!("waiting for a seat: position {}", place.position)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_seat(
        &self,
        request: &AcquireRequest,
        max_wait: Duration,
        mut on_queued: impl FnMut(&QueuePlace),
    ) -> Result<Lease> {
        let started = Instant::now();
        let end = started + max_wait.min(MAX_WAIT);
        let plain = AcquireRequest {
            wait_seconds: None,
            queue_ticket: None,
            ..request.clone()
        };
        if max_wait < Duration::from_secs(1) {
            return self.acquire(&plain).await;
        }
        let mut place = match self.join(&plain, end).await? {
            Acquired::Lease(lease) => return Ok(lease),
            Acquired::Queued(place) => place,
        };
        let mut spot = Spot {
            client: self.clone(),
            license_key: request.license_key.clone(),
            ticket: Some(place.queue_ticket.clone()),
        };
        on_queued(&place);
        let mut answered = Instant::now();
        loop {
            let deadline = end.min(until(&place));
            let pause = poll_pause(&place);
            sleep_until((Instant::now() + pause).min(deadline)).await;
            let last = Instant::now() >= deadline;
            let poll = AcquireRequest {
                queue_ticket: Some(place.queue_ticket.clone()),
                ..plain.clone()
            };
            match self.acquire_or_wait(&poll).await {
                Ok(Acquired::Lease(lease)) => {
                    spot.ticket = None;
                    return Ok(lease);
                }
                Ok(Acquired::Queued(next)) => {
                    answered = Instant::now();
                    if next.position != place.position {
                        on_queued(&next);
                    }
                    place = next;
                }
                // The ticket lives on through a short outage: keep asking while it may.
                Err(Error::ServerUnavailable { .. })
                    if !last && answered.elapsed() + pause < poll_within(&place) => {}
                Err(Error::TicketGone { .. }) => {
                    spot.ticket = None;
                    let now = Instant::now();
                    // Gone at (about) the end of its wait, or of ours: the wait ended. A
                    // place lost sooner is taken again at the end, for the rest of our wait.
                    if last || now + pause >= until(&place) || end < now + Duration::from_secs(1) {
                        return Err(Error::WaitEnded {
                            waited: started.elapsed(),
                            position: place.position,
                        });
                    }
                    place = match self.join(&plain, end).await? {
                        Acquired::Lease(lease) => return Ok(lease),
                        Acquired::Queued(place) => place,
                    };
                    spot.ticket = Some(place.queue_ticket.clone());
                    on_queued(&place);
                    answered = Instant::now();
                    continue;
                }
                Err(e) => {
                    spot.leave().await;
                    return Err(e);
                }
            }
            if last {
                spot.leave().await;
                return Err(Error::WaitEnded {
                    waited: started.elapsed(),
                    position: place.position,
                });
            }
        }
    }

    /// Joins the queue (or gets a seat at once) for the time left until `end`, in whole
    /// seconds rounded up (the server's end of the wait never comes before ours).
    async fn join(&self, plain: &AcquireRequest, end: Instant) -> Result<Acquired> {
        let left = end.saturating_duration_since(Instant::now());
        let left = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let join = AcquireRequest {
            wait_seconds: Some(u32::try_from(left).unwrap_or(u32::MAX).max(1)),
            ..plain.clone()
        };
        self.acquire_or_wait(&join).await
    }
}

/// The pause before the next poll: what the server asked, never so long that the ticket
/// lapses (half its poll window at most), never under [`MIN_POLL`].
fn poll_pause(place: &QueuePlace) -> Duration {
    Duration::from_secs(u64::from(place.poll_after_seconds))
        .min(poll_within(place) / 2)
        .max(MIN_POLL)
}

fn poll_within(place: &QueuePlace) -> Duration {
    Duration::from_secs(u64::from(place.poll_within_seconds))
}

/// When the server ends the ticket's wait, on this machine's monotonic clock.
fn until(place: &QueuePlace) -> Instant {
    let left = (place.wait_until - Utc::now()).to_std().unwrap_or_default();
    Instant::now() + left
}

/// A place in a queue that is left when its wait stops early: explicitly (awaited), or on
/// drop (a task on the current runtime).
struct Spot {
    client: Client,
    license_key: String,
    /// `None` once the place needs no leaving (seated, gone, left).
    ticket: Option<String>,
}

impl Spot {
    async fn leave(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            // Best-effort: a place nobody polls lapses at its poll deadline anyway.
            let _ = self.client.leave_queue(&self.license_key, &ticket).await;
        }
    }
}

impl Drop for Spot {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, key) = (self.client.clone(), std::mem::take(&mut self.license_key));
            runtime.spawn(async move {
                let _ = client.leave_queue(&key, &ticket).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(poll_after_seconds: u32, poll_within_seconds: u32) -> QueuePlace {
        QueuePlace {
            queue_ticket: "t".into(),
            position: 1,
            wait_until: Utc::now(),
            poll_after_seconds,
            poll_within_seconds,
        }
    }

    #[test]
    fn polls_follow_the_server_but_never_let_the_ticket_lapse() {
        assert_eq!(poll_pause(&place(2, 15)), Duration::from_secs(2));
        // Asked to come back later than the ticket lives: half its window.
        assert_eq!(poll_pause(&place(30, 10)), Duration::from_secs(5));
        // Never a busy loop.
        assert_eq!(poll_pause(&place(0, 15)), MIN_POLL);
    }
}
