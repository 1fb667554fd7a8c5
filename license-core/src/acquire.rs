//! Acquire: take a seat for a machine, or give back the one it already holds.
//!
//! On the way that grants: the license from the replica's policy cache, one store transaction
//! (the session is recorded *before* the ledger grants its seat), one ledger script, one
//! signature. Recording first means a rebuild of the ledger after a Redis loss, running at any
//! moment, finds every seat the ledger may have granted; a record whose seat was refused is
//! deleted again. See ADR 0017.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::warn;

use crate::audit::Actor;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{DenialReason, QueueEndReason, SeatEventKind};
use crate::evict::user_ref;
use crate::holder::{SessionSecret, holder_admits};
use crate::ids::{SessionId, TenantId};
use crate::leasing::{HostName, LeasingStrategy, ProcessId};
use crate::license::{License, LicenseKey};
use crate::queue_tickets::QueueTicket;
use crate::rebuild::{MAX_LEDGER_ATTEMPTS, kept_losing_state};
use crate::seat_ledger::{AcquireOutcome, LedgerKey, SeatRef, SeatRequest};
use crate::seat_policy::{Admission, Requester, SeatLimit};
use crate::seat_queue::{QueueMode, QueueRequest};
use crate::service::{Lease, LicenseService, ledger_key, seat_of, ttl_of};
use crate::session::{HardwareId, Session, UserEmail};
use crate::store::{HeartbeatRecord, UsagePeak};
use crate::tenant_keys::timeline::delta;
use crate::wait::{Acquired, POLL_EVERY, POLL_WITHIN, QueuePlace, SeatWait};

/// What acquire can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::LicenseInactive,
    ErrorKind::NoSeatsAvailable,
    // The license's policy excludes the requester (ADR 0026).
    ErrorKind::Excluded,
    // A seat key the strategy needs is missing (`user_email`, `process_id`).
    ErrorKind::InvalidInput,
    // The machine or person is held off after an eviction (ADR 0025).
    ErrorKind::HeldOff,
    // The machine's seat is held by a session another person acquired (ADR 0023); or a
    // session-id clash in the store (122 random bits: practically never, but declared).
    ErrorKind::Conflict,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// Everything a client says about itself when it asks for a seat.
///
/// ```
/// use license_core::{Applicant, HardwareId};
/// let applicant = Applicant::machine(HardwareId::parse("pc-1")?, None);
/// assert!(applicant.host_name.is_none() && applicant.process_id.is_none());
/// # Ok::<(), license_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applicant {
    /// The machine.
    pub hardware_id: HardwareId,
    /// Who uses it, if the client says.
    pub user_email: Option<UserEmail>,
    /// The host's name, if the client says (matched by policies).
    pub host_name: Option<HostName>,
    /// Which process asks (needed under per-process leasing).
    pub process_id: Option<ProcessId>,
}

impl Applicant {
    /// A machine and, maybe, its user: all a per-machine license needs.
    pub fn machine(hardware_id: HardwareId, user_email: Option<UserEmail>) -> Self {
        Self {
            hardware_id,
            user_email,
            host_name: None,
            process_id: None,
        }
    }
}

impl LicenseService {
    /// Takes a seat on the license with `key` for the machine `hardware_id`, for `holder`
    /// (the identity of the caller's credential; see [`holder`](crate::holder)). When the
    /// license requires session secrets, the lease carries one ([`Lease::secret`]).
    ///
    /// Idempotent per `(license, hardware_id)`: while the machine holds a live seat, a retry
    /// returns that session with a fresh token and takes no second seat
    /// ([`Lease::new_seat`] is `false`), and a new secret if the session has one (the retry
    /// never saw the first; the old one stops working). A session a person acquired is
    /// returned to that person only: another gets `conflict`. A machine (or person) held off
    /// after an eviction gets `evicted` until the hold-off ends; a seat lingering for this
    /// machine is taken back at once; a grant beyond `seats_total` is marked overdraft in the
    /// session and the token (ADR 0025).
    ///
    /// Errors: see [`ERRORS`]. Emits `granted` (and `overdraft`), `held` or `denied`.
    pub async fn acquire(
        &self,
        tenant: TenantId,
        holder: &Actor,
        key: &LicenseKey,
        hardware_id: &HardwareId,
        user_email: Option<UserEmail>,
    ) -> Result<Lease> {
        let applicant = Applicant::machine(hardware_id.clone(), user_email);
        self.acquire_as(tenant, holder, key, &applicant).await
    }

    /// [`acquire`](Self::acquire) with everything the client says about itself: its host
    /// name (for policies) and process id (for per-process leasing). The license's leasing
    /// strategy decides what a retry gets back: the machine's seat, the person's (from any
    /// machine) or the process's; its policy may refuse the requester (`excluded`) or the
    /// seat ([`Error::NoSeatsAvailable`] naming the limit reached). ADR 0026.
    pub async fn acquire_as(
        &self,
        tenant: TenantId,
        holder: &Actor,
        key: &LicenseKey,
        applicant: &Applicant,
    ) -> Result<Lease> {
        let license = self
            .policy
            .by_key(self.licenses.as_ref(), tenant, key)
            .await?;
        self.take_seat(&license, holder, applicant, None, None)
            .await?
            .into_lease()
    }

    /// Acquire or borrow (`borrow`: the period, already checked against the license), maybe
    /// waiting in the license's queue (`wait`; never with a borrow): everything but finding
    /// the license.
    pub(crate) async fn take_seat(
        &self,
        license: &License,
        holder: &Actor,
        applicant: &Applicant,
        borrow: Option<Duration>,
        wait: Option<SeatWait>,
    ) -> Result<Acquired> {
        let tenant = license.tenant_id;
        let hardware_id = &applicant.hardware_id;
        let user_email = applicant.user_email.clone();
        if let Err(e) = license.ensure_usable(self.clock.now()) {
            if let Error::LicenseInactive(reason) = &e {
                self.emit_denial(
                    license,
                    hardware_id,
                    user_email.as_ref(),
                    DenialReason::inactive(*reason),
                );
            }
            return Err(e);
        }
        let ledger_key = ledger_key(license);
        let ttl = borrow.unwrap_or_else(|| ttl_of(license));
        let limit = self.seat_limit_now(license).await?;
        let user = user_ref(Some(holder), user_email.as_ref());
        let rules = &license.rules;
        let seat_key =
            rules
                .leasing
                .seat_key(hardware_id, user.as_ref(), applicant.process_id.as_ref())?;
        let seat = seat_key.clone().unwrap_or_else(|| hardware_id.clone());
        let requester = Requester {
            hardware_id: hardware_id.as_str(),
            user_email: user_email.as_ref().map(UserEmail::as_str),
            subject: match holder {
                Actor::User(sub) => Some(sub.as_str()),
                _ => None,
            },
            host_name: applicant.host_name.as_ref().map(HostName::as_str),
        };
        let processes = (rules.leasing == LeasingStrategy::PerProcess)
            .then_some(rules.max_processes_per_host)
            .flatten();
        let tally = match Admission::of(&license.policy, &requester, processes) {
            Ok(tally) => tally,
            Err(e) => {
                self.emit_denial(
                    license,
                    hardware_id,
                    user_email.as_ref(),
                    DenialReason::Excluded,
                );
                return Err(e);
            }
        };
        // This machine's session on this license, starting now.
        let start = |id: SessionId, expires_at: DateTime<Utc>| {
            Session::start(
                id,
                tenant,
                license.id,
                hardware_id.clone(),
                user_email.clone(),
                self.clock.now(),
                expires_at,
            )
            .held_by(holder.clone())
            .borrowed(borrow.is_some())
            .keyed(seat_key.clone(), tally.counters.clone())
        };
        let secret = license
            .require_session_secret
            .then(SessionSecret::generate)
            .transpose()?;

        let queue = queue_request(
            license,
            &requester,
            borrow.is_none().then_some(wait).flatten(),
        );
        // A poll asks with its ticket: granted, the ticket is the lease's session.
        let ticket = wait
            .and_then(|w| w.ticket)
            .filter(|_| queue.mode != QueueMode::Pass);
        let seat_request = |session_id: SessionId| SeatRequest {
            session_id,
            hardware_id: seat.clone(),
            user: user.clone(),
            limit,
            ttl,
            borrow: borrow.map(|_| license.rules.max_borrowed_seats.unwrap_or(u32::MAX)),
            tally: tally.clone(),
        };
        // A poll first asks whether its turn has come, taking no seat: one that stays queued
        // writes nothing to the store (the session is recorded only for the grant, ADR 0017).
        if let Some(id) = ticket
            && let Some(answer) = self
                .peek(
                    &ledger_key,
                    &seat_request(id),
                    &queue,
                    start(id, self.clock.now()),
                )
                .await?
        {
            return answer;
        }
        for _ in 0..MAX_LEDGER_ATTEMPTS {
            let id = ticket.unwrap_or_default();
            let session = start(id, self.clock.now() + delta(ttl))
                .with_secret(secret.as_ref().map(SessionSecret::hash));
            self.sessions.insert_session(&session, 0).await?;
            let request = seat_request(session.id);
            let outcome = match self
                .with_rebuild(&ledger_key, || {
                    self.ledger.acquire_queued(&ledger_key, &request, &queue)
                })
                .await
            {
                Ok(outcome) => outcome,
                Err(e) => {
                    self.stats.compensations.fetch_add(1, Ordering::Relaxed);
                    self.discard(&ledger_key, &session).await;
                    return Err(e);
                }
            };
            // A ticket ends with a grant, a seat its machine holds, a hold-off or its loss:
            // its record goes too.
            if ticket.is_some()
                && matches!(
                    outcome,
                    AcquireOutcome::Granted { .. }
                        | AcquireOutcome::TookBack { .. }
                        | AcquireOutcome::AlreadyHeld { .. }
                        | AcquireOutcome::Evicted { .. }
                        | AcquireOutcome::TicketGone
                )
            {
                self.end_ticket(tenant, session.id).await;
            }
            match outcome {
                AcquireOutcome::Granted { expires_at, in_use } => {
                    let mut lease = self
                        .granted(license, session, expires_at, Some(in_use))
                        .await?;
                    lease.secret = secret;
                    return Ok(Acquired::Lease(Box::new(lease)));
                }
                AcquireOutcome::TookBack {
                    expires_at,
                    in_use,
                    lingering,
                } => {
                    // The released session lingers no more: a rebuild after a Redis loss must
                    // not restore its seat next to this one. If the store cannot take that,
                    // the grant is withdrawn (the linger ends with it).
                    if let Err(e) = self
                        .sessions
                        .end_linger(tenant, lingering, self.clock.now())
                        .await
                    {
                        self.stats.compensations.fetch_add(1, Ordering::Relaxed);
                        self.discard(&ledger_key, &session).await;
                        return Err(e);
                    }
                    let mut lease = self
                        .granted(license, session, expires_at, Some(in_use))
                        .await?;
                    lease.secret = secret;
                    return Ok(Acquired::Lease(Box::new(lease)));
                }
                // A rebuild ran between our record and our script and restored it as a seat:
                // no limit was checked for it. Give it back and ask again.
                AcquireOutcome::AlreadyHeld { session_id, .. } if session_id == session.id => {
                    self.discard(&ledger_key, &session).await;
                }
                AcquireOutcome::AlreadyHeld {
                    session_id: held,
                    expires_at,
                } => {
                    self.discard(&ledger_key, &session).await;
                    match self.existing_session(start(held, expires_at)).await? {
                        Some(session) => {
                            if !holder_admits(session.holder.as_ref(), holder) {
                                let reason = DenialReason::HeldByAnotherUser;
                                self.emit_denial(license, hardware_id, user_email.as_ref(), reason);
                                return Err(Error::Conflict(
                                    "this machine's seat on the license is held by another user; \
                                     give each user of a shared machine their own hardware_id"
                                        .into(),
                                ));
                            }
                            if borrow.is_some() && !session.borrowed {
                                return Err(Error::Conflict(
                                    "this machine holds a seat on the license now; release it \
                                     (close the application), then borrow"
                                        .into(),
                                ));
                            }
                            // A rebuild after a Redis loss restores every record the store
                            // cannot prove dead, the record of an acquire that never got its
                            // seat too (its replica died, or the ledger failed and the record
                            // could not be deleted). Handing such a seat out as it is could put
                            // more leases out than seats or than a cap: it is granted again,
                            // checked as a new seat (ADR 0017).
                            let session = if session.confirmed {
                                session
                            } else {
                                let again = SeatRequest {
                                    session_id: held,
                                    ..request.clone()
                                };
                                match self.regrant(license, &ledger_key, &again, session).await? {
                                    Some(session) => session,
                                    None => continue,
                                }
                            };
                            if let Some(lease) = self.held(license, session).await? {
                                return Ok(Acquired::Lease(Box::new(lease)));
                            }
                        }
                        // The ledger's seat belongs to a session the store has ended: free it.
                        None => {
                            self.ledger
                                .release(&ledger_key, SeatRef::new(held, &seat))
                                .await?
                        }
                    }
                }
                AcquireOutcome::NoSeats => {
                    self.discard(&ledger_key, &session).await;
                    return Err(self
                        .refuse(
                            license,
                            hardware_id,
                            user_email.as_ref(),
                            limit,
                            SeatLimit::Seats,
                        )
                        .await);
                }
                AcquireOutcome::Limited(reached) => {
                    self.discard(&ledger_key, &session).await;
                    return Err(self
                        .refuse(license, hardware_id, user_email.as_ref(), limit, reached)
                        .await);
                }
                AcquireOutcome::NoBorrowSeats => {
                    self.discard(&ledger_key, &session).await;
                    self.emit_denial(
                        license,
                        hardware_id,
                        user_email.as_ref(),
                        DenialReason::BorrowLimit,
                    );
                    return Err(Error::BorrowLimitReached {
                        limit: license.rules.max_borrowed_seats.unwrap_or(limit),
                    });
                }
                AcquireOutcome::Evicted { until, reason } => {
                    self.discard(&ledger_key, &session).await;
                    self.emit_denial(
                        license,
                        hardware_id,
                        user_email.as_ref(),
                        DenialReason::Evicted,
                    );
                    return Err(Error::HeldOff { reason, until });
                }
                AcquireOutcome::Rebuild => {
                    self.discard(&ledger_key, &session).await;
                    return Err(kept_losing_state());
                }
                // Only a peek answers so; this was none.
                AcquireOutcome::Turn => {
                    self.discard(&ledger_key, &session).await;
                    return Err(Error::Internal(
                        "the ledger answered a poll as a peek".into(),
                    ));
                }
                // No seat: the record goes; the ticket is the place (ADR 0029).
                AcquireOutcome::Queued {
                    position,
                    wait_until,
                    arrival,
                } => {
                    self.discard(&ledger_key, &session).await;
                    // A join (a poll keeps its place: no event per poll) is recorded, so a
                    // rebuild after a Redis loss restores it in its place.
                    if ticket.is_none() {
                        let record = QueueTicket {
                            tenant_id: tenant,
                            license_id: license.id,
                            ticket: session.id,
                            seat: seat.clone(),
                            priority: queue.priority,
                            arrival,
                            joined_at: session.acquired_at,
                            wait_until,
                            tally: tally.clone(),
                        };
                        self.record_ticket(&ledger_key, &record).await?;
                        let kind = SeatEventKind::Queued {
                            position,
                            wait_until,
                        };
                        self.emit(self.session_event(&session, kind));
                    }
                    return Ok(Acquired::Waiting(QueuePlace {
                        ticket: session.id,
                        position,
                        wait_until,
                        poll_after: POLL_EVERY,
                        poll_within: POLL_WITHIN,
                    }));
                }
                AcquireOutcome::QueueFull => {
                    self.discard(&ledger_key, &session).await;
                    return Err(self
                        .refuse(
                            license,
                            hardware_id,
                            user_email.as_ref(),
                            limit,
                            SeatLimit::QueueFull,
                        )
                        .await);
                }
                AcquireOutcome::TicketGone => {
                    self.discard(&ledger_key, &session).await;
                    let kind = SeatEventKind::QueueEnded {
                        reason: QueueEndReason::Gone,
                    };
                    self.emit(self.session_event(&session, kind));
                    return Err(Error::TicketGone);
                }
            }
        }
        Err(kept_losing_state())
    }

    /// Hands out a seat the ledger granted to the recorded `session` until `expires_at` (the
    /// ledger's clock). The store learns that expiry, and the day's peak, from the write-behind
    /// buffer.
    async fn granted(
        &self,
        license: &License,
        mut session: Session,
        expires_at: DateTime<Utc>,
        in_use: Option<u32>,
    ) -> Result<Lease> {
        // Always, even when the expiry did not move: the record also tells the store the grant
        // happened (`confirmed`), which a rebuild after a Redis loss relies on.
        self.write_behind.heartbeat(HeartbeatRecord {
            tenant_id: session.tenant_id,
            session_id: session.id,
            at: session.acquired_at,
            expires_at: expires_at.max(session.expires_at),
        });
        session.expires_at = expires_at;
        let over_by = in_use.map_or(0, |n| n.saturating_sub(license.seats.get()));
        if over_by > 0 {
            // Billable: the store must know before the client does. If it cannot learn it,
            // the grant is withdrawn like any other that fails after the ledger's step.
            if let Err(e) = self
                .sessions
                .mark_overdraft(session.tenant_id, session.id)
                .await
            {
                self.stats.compensations.fetch_add(1, Ordering::Relaxed);
                self.discard(&ledger_key(license), &session).await;
                return Err(e);
            }
            session.overdraft = true;
        }
        if let Some(in_use) = in_use {
            let peak = UsagePeak {
                tenant_id: session.tenant_id,
                license_id: session.license_id,
                day: session.acquired_at.date_naive(),
                in_use,
                overdraft: over_by,
            };
            self.write_behind.peak(peak, session.acquired_at);
        }
        self.directory.remember(&session);
        let in_use = in_use.unwrap_or(0);
        let kind = if session.borrowed {
            SeatEventKind::Borrowed {
                until: session.expires_at,
                in_use,
            }
        } else {
            SeatEventKind::Granted { in_use }
        };
        self.emit(self.session_event(&session, kind));
        if over_by > 0 {
            self.emit(self.session_event(&session, SeatEventKind::Overdraft { over_by }));
        }
        self.lease(license, session, true).await
    }

    /// Hands the machine's live session back, renewed (a rebuilt ledger may hold it with the
    /// rebuild's slack; the lease gets an ordinary TTL, and the store learns it), with a new
    /// secret if it has one or its license now asks for one.
    /// `None`: the seat was freed meanwhile; the caller asks again.
    async fn held(&self, license: &License, mut session: Session) -> Result<Option<Lease>> {
        if session.borrowed {
            // A borrowed seat keeps its end: a retried borrow gets the same lease back. Handed
            // out, its grant goes on record (a rebuild restored it unconfirmed, say).
            if !session.confirmed {
                self.write_behind.heartbeat(HeartbeatRecord {
                    tenant_id: session.tenant_id,
                    session_id: session.id,
                    at: session.last_heartbeat_at,
                    expires_at: session.expires_at,
                });
            }
            self.directory.remember(&session);
            self.emit(self.session_event(&session, SeatEventKind::Held));
            return self.lease(license, session, false).await.map(Some);
        }
        let key = ledger_key(license);
        // Freed since the ledger named it (released or expired meanwhile): no lease for it.
        let Some(renewed) = self
            .renew_seat(&key, seat_of(&session), ttl_of(license))
            .await?
        else {
            return Ok(None);
        };
        session.expires_at = renewed;
        let secret = if session.secret_hash.is_some() || license.require_session_secret {
            let secret = SessionSecret::generate()?;
            let hash = secret.hash();
            self.sessions
                .set_session_secret(session.tenant_id, session.id, &hash)
                .await?;
            session.secret_hash = Some(hash);
            Some(secret)
        } else {
            None
        };
        let now = self.clock.now();
        session.last_heartbeat_at = now;
        self.write_behind.heartbeat(HeartbeatRecord {
            tenant_id: session.tenant_id,
            session_id: session.id,
            at: now,
            expires_at: session.expires_at,
        });
        self.directory.remember(&session);
        self.emit(self.session_event(&session, SeatEventKind::Held));
        let mut lease = self.lease(license, session, false).await?;
        lease.secret = secret;
        Ok(Some(lease))
    }

    /// Grants the machine's seat held by `session`, whose grant is not on record, again
    /// ([`SeatLedger::regrant`]): `Some(session)` to hand it out, `None` to ask again (the
    /// seat is no longer the session's, or was of the other kind or counted toward other
    /// things than the asker's, and is freed), or the refusal (the seat is freed).
    async fn regrant(
        &self,
        license: &License,
        key: &LedgerKey,
        request: &SeatRequest,
        session: Session,
    ) -> Result<Option<Session>> {
        let seat = seat_of(&session);
        if session.borrowed != request.borrow.is_some()
            || session.counters != request.tally.counters
        {
            // A seat of the other kind, or counted for someone else (another host of the same
            // person, say): freed, so that the retry gets a fresh one, counted for the asker.
            self.ledger.release(key, seat).await?;
            return Ok(None);
        }
        let outcome = self
            .with_rebuild(key, || self.ledger.regrant(key, request))
            .await?;
        let hardware_id = &session.hardware_id;
        Err(match outcome {
            AcquireOutcome::AlreadyHeld { session_id, .. } if session_id == session.id => {
                return Ok(Some(session));
            }
            // Its seat had gone: the regrant gave it a new one.
            AcquireOutcome::Granted { .. } => return Ok(Some(session)),
            AcquireOutcome::TookBack { lingering, .. } => {
                // As a take-back of an acquire: the linger ends on record, or the seat goes.
                if let Err(e) = self
                    .sessions
                    .end_linger(license.tenant_id, lingering, self.clock.now())
                    .await
                {
                    self.release_quietly(key, seat).await;
                    return Err(e);
                }
                return Ok(Some(session));
            }
            // Refused (the seat is freed), or not this session's seat: the acquire asks again
            // as anyone would, and is refused there (or, waiting, joins the queue).
            AcquireOutcome::AlreadyHeld { .. }
            | AcquireOutcome::Rebuild
            | AcquireOutcome::NoSeats
            | AcquireOutcome::Limited(_)
            | AcquireOutcome::Queued { .. }
            | AcquireOutcome::Turn
            | AcquireOutcome::QueueFull
            | AcquireOutcome::TicketGone => return Ok(None),
            AcquireOutcome::NoBorrowSeats => {
                self.emit_denial(
                    license,
                    hardware_id,
                    session.user_email.as_ref(),
                    DenialReason::BorrowLimit,
                );
                Error::BorrowLimitReached {
                    limit: license.rules.max_borrowed_seats.unwrap_or(request.limit),
                }
            }
            AcquireOutcome::Evicted { until, reason } => {
                self.emit_denial(
                    license,
                    hardware_id,
                    session.user_email.as_ref(),
                    DenialReason::Evicted,
                );
                Error::HeldOff { reason, until }
            }
        })
    }

    /// Deletes the record of a seat the ledger did not grant, and frees the seat in case a
    /// rebuild restored it from that record meanwhile. If either fails, the record only keeps
    /// a seat counted until its expiry (a rebuild restores it; the reaper ends it).
    async fn discard(&self, key: &LedgerKey, session: &Session) {
        if let Err(e) = self
            .sessions
            .discard_session(session.tenant_id, session.id)
            .await
        {
            warn!(error = %e, session_id = %session.id, "could not delete an ungranted session; it expires by itself");
        }
        self.release_quietly(key, seat_of(session)).await;
    }

    /// Counts a refusal for the usage report and says why there is no seat.
    async fn refuse(
        &self,
        license: &License,
        hardware_id: &HardwareId,
        user: Option<&UserEmail>,
        limit: u32,
        reached: SeatLimit,
    ) -> Error {
        let at = self.clock.now();
        if let Err(e) = self
            .sessions
            .record_denial(license.tenant_id, license.id, at)
            .await
        {
            // The answer stands; only the usage figure is lost.
            warn!(error = %e, license_id = %license.id, "could not record a denial");
        }
        self.emit_denial(license, hardware_id, user, reached.into());
        Error::NoSeatsAvailable { limit, reached }
    }

    /// A refusal, naming the machine and the person who asked (reports count denials by user).
    fn emit_denial(
        &self,
        license: &License,
        hardware_id: &HardwareId,
        user: Option<&UserEmail>,
        reason: DenialReason,
    ) {
        let event = crate::events::SeatEvent::new(
            self.clock.now(),
            license.tenant_id,
            SeatEventKind::Denied { reason },
        )
        .license(license.id)
        .hardware(hardware_id.as_str());
        self.emit(match user {
            Some(user) => event.user(user.as_str()),
            None => event,
        });
    }

    /// The session the ledger says this machine holds (`new` names it), recorded in the store
    /// if the grant was never recorded (a crash between the two). `None` when the store has
    /// ended it.
    async fn existing_session(&self, new: Session) -> Result<Option<Session>> {
        match self.sessions.get_session(new.tenant_id, new.id).await {
            Ok(session) if session.ended_at.is_none() => Ok(Some(session)),
            Ok(_) => Ok(None),
            Err(Error::NotFound(_)) => {
                self.sessions.insert_session(&new, 0).await?;
                Ok(Some(new))
            }
            Err(e) => Err(e),
        }
    }
}

/// Where an acquire stands in the license's queue: its policy's priority, and, when the
/// license queues and the client waits, joining (or polling its ticket) for up to the
/// license's longest wait.
fn queue_request(
    license: &License,
    requester: &Requester<'_>,
    wait: Option<SeatWait>,
) -> QueueRequest {
    let priority = Admission::priority(&license.policy, requester);
    let rules = &license.rules;
    let seconds = wait.map_or(0, |w| w.seconds.min(rules.max_wait_seconds));
    let mode = match wait {
        // A poll keeps the wait it joined with.
        Some(SeatWait {
            ticket: Some(_), ..
        }) if rules.queueing() => QueueMode::Poll {
            poll_within: POLL_WITHIN,
        },
        Some(SeatWait { ticket: None, .. }) if seconds > 0 => QueueMode::Join {
            wait: Duration::from_secs(u64::from(seconds)),
            poll_within: POLL_WITHIN,
            max_length: rules.queue_length(),
        },
        _ => QueueMode::Pass,
    };
    QueueRequest { priority, mode }
}
