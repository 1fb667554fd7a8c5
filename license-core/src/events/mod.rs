//! The event port: every use case says what happened as a [`SeatEvent`], and sinks (metrics,
//! the event log, later the report log and webhooks) subscribe. Emitting never waits and never
//! fails: a sink that cannot keep up drops the event and counts it.
//!
//! The JSON form of an event is a stable, documented schema (`docs/events.md`): a `type`
//! (`granted`, `held`, `denied`, `renewed`, `released`, `expired`, `revoked`, `evicted`,
//! `borrowed`, `returned`, `overdraft`, `rebuilt`, `reaped`, `queued`, `queue_ended`,
//! `events_lost`, `checkpoint`, `admin_change`), the instant, the tenant, and the ids the event concerns. New fields may be
//! added; existing ones keep their name and meaning.
//!
//! ```
//! use std::sync::Arc;
//! use license_core::events::{EventSink, MemoryEvents, SeatEvent, SeatEventKind};
//! use license_core::{LicenseId, TenantId};
//!
//! let sink = MemoryEvents::with_capacity(1);
//! let event = SeatEvent::new(chrono::Utc::now(), TenantId::new(), SeatEventKind::Rebuilt { seats: 2 })
//!     .license(LicenseId::new());
//! sink.emit(&event);
//! sink.emit(&event); // over capacity: dropped and counted, never blocking
//! assert_eq!(sink.events().len(), 1);
//! assert_eq!(sink.dropped(), 1);
//! assert_eq!(serde_json::to_value(&event).unwrap()["type"], "rebuilt");
//! ```

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::error::InactiveReason;
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::seat_policy::SeatLimit;

/// The event log's writer: a bounded queue and batched appends per tenant.
mod recorder;
/// Sinks: the port, fan-out, a bounded queue, an in-memory recorder.
mod sinks;

pub use recorder::{BATCH, EventRecorder, RecorderStats};

pub use sinks::{EventQueue, EventReceiver, EventSink, EventSinks, MemoryEvents};

/// Why an acquire was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialReason {
    /// Every seat was in use.
    NoSeats,
    /// The license is suspended.
    LicenseSuspended,
    /// The license is revoked.
    LicenseRevoked,
    /// The license is past its expiry.
    LicenseExpired,
    /// The machine's seat is held by a session another person acquired (ADR 0023).
    HeldByAnotherUser,
    /// The machine or person is held off after an eviction (ADR 0025).
    Evicted,
    /// A borrow, while the license's most borrowed seats are out.
    BorrowLimit,
    /// The license's policy excludes the requester (ADR 0026).
    Excluded,
    /// A `max` rule on one of the requester's groups.
    GroupMax,
    /// A `max` rule on the requester.
    UserMax,
    /// A `max` rule on the requester's host.
    HostMax,
    /// The license's most processes per host.
    ProcessesPerHost,
    /// The free seats are reserved for other groups.
    ReservedForOthers,
    /// Clients waiting in the license's queue come first.
    Queued,
    /// The license's queue is full.
    QueueFull,
}

impl From<SeatLimit> for DenialReason {
    fn from(limit: SeatLimit) -> Self {
        match limit {
            SeatLimit::Seats => DenialReason::NoSeats,
            SeatLimit::GroupMax => DenialReason::GroupMax,
            SeatLimit::UserMax => DenialReason::UserMax,
            SeatLimit::HostMax => DenialReason::HostMax,
            SeatLimit::ProcessesPerHost => DenialReason::ProcessesPerHost,
            SeatLimit::ReservedForOthers => DenialReason::ReservedForOthers,
            SeatLimit::Queued => DenialReason::Queued,
            SeatLimit::QueueFull => DenialReason::QueueFull,
        }
    }
}

impl DenialReason {
    /// The denial for an inactive license.
    pub fn inactive(reason: InactiveReason) -> Self {
        match reason {
            InactiveReason::Suspended => DenialReason::LicenseSuspended,
            InactiveReason::Revoked => DenialReason::LicenseRevoked,
            InactiveReason::Expired => DenialReason::LicenseExpired,
        }
    }
}

/// Why a wait in the queue ended without a seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueEndReason {
    /// The client left the queue.
    Left,
    /// A poll found the ticket no longer waiting: its wait was over, it was not polled in
    /// time, or the ledger lost it.
    Gone,
}

/// What happened. The serialized `type` of each variant is part of the stable schema.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SeatEventKind {
    /// A new seat was taken.
    Granted {
        /// Seats in use on the license right after the grant (the ledger's count).
        in_use: u32,
    },
    /// An acquire found the machine already holding a seat and returned that session.
    Held,
    /// An acquire was refused.
    Denied {
        /// Why.
        reason: DenialReason,
    },
    /// A heartbeat renewed a seat.
    Renewed,
    /// The client released its seat.
    Released,
    /// A seat was reclaimed because its session stopped heartbeating: seen by a heartbeat
    /// (the event's `at`), or by the reaper, which names when the session ended.
    Expired {
        /// When the session ended, when that was before the event (the reaper finds a
        /// session dead after its expiry; a heartbeat sees it at `at`).
        #[serde(skip_serializing_if = "Option::is_none")]
        ended_at: Option<DateTime<Utc>>,
    },
    /// A seat was taken back because its license became inactive.
    Revoked,
    /// An administrator evicted a session (force release), maybe holding its machine and
    /// person off.
    Evicted {
        /// Why, as the administrator said it.
        reason: String,
        /// Until when the machine and person may not acquire (`None`: no hold-off).
        #[serde(skip_serializing_if = "Option::is_none")]
        hold_until: Option<DateTime<Utc>>,
    },
    /// A seat was borrowed for offline work until `until`.
    Borrowed {
        /// The borrow's end.
        until: DateTime<Utc>,
        /// Seats in use on the license right after the grant.
        in_use: u32,
    },
    /// A borrowed seat was returned before its end.
    Returned,
    /// A grant went beyond the license's `seats_total`, into its overdraft (billable).
    Overdraft {
        /// Seats in use beyond `seats_total` right after the grant.
        over_by: u32,
    },
    /// A ledger that had lost its state was rebuilt from the store.
    Rebuilt {
        /// Seats restored.
        seats: u32,
    },
    /// The reaper marked sessions past their expiry as expired in the store.
    Reaped {
        /// Sessions marked.
        sessions: u64,
    },
    /// A client joined the license's queue (ADR 0029): the session id is its ticket, which
    /// becomes the session of its grant (a `granted` with the same `session_id`).
    Queued {
        /// Its place: 1 is next in line.
        position: u32,
        /// When its wait ends unless it gets a seat first.
        wait_until: DateTime<Utc>,
    },
    /// A client's wait in the queue ended without a seat.
    QueueEnded {
        /// Why.
        reason: QueueEndReason,
    },
    /// Events of the tenant the event log's queue had no room for (ADR 0030): written in
    /// their place, so a gap in what was recorded is itself on record.
    EventsLost {
        /// How many.
        count: u64,
    },
    /// The server signed, with the tenant's key, that entry `seq` of the tenant's log has
    /// `hash` (ADR 0030: a checkpoint at a fixed interval, on record in the log itself).
    Checkpoint {
        /// The entry vouched for.
        seq: u64,
        /// Its hash.
        hash: crate::event_log::ChainHash,
        /// The compact JWS (`event-checkpoint+jwt`) saying so.
        checkpoint: String,
    },
    /// An administrator changed tenant data (the durable audit record is written with the change).
    AdminChange {
        /// What was done, dotted (`license.create`).
        action: String,
        /// What it was done to (`license:<id>`).
        target: String,
        /// Who did it (`operator`, `api_key:<id>`, `user:<sub>`, `system`).
        actor: String,
    },
    /// A webhook endpoint failed for longer than the server allows and was disabled
    /// (ADR 0032); its cursor stays where it was, for a redelivery.
    WebhookDisabled {
        /// The endpoint.
        endpoint_id: crate::ids::WebhookId,
        /// Why, in words.
        reason: String,
    },
}

impl SeatEventKind {
    /// The schema's `type` value.
    pub fn name(&self) -> &'static str {
        match self {
            SeatEventKind::Granted { .. } => "granted",
            SeatEventKind::Held => "held",
            SeatEventKind::Denied { .. } => "denied",
            SeatEventKind::Renewed => "renewed",
            SeatEventKind::Released => "released",
            SeatEventKind::Expired { .. } => "expired",
            SeatEventKind::Revoked => "revoked",
            SeatEventKind::Evicted { .. } => "evicted",
            SeatEventKind::Borrowed { .. } => "borrowed",
            SeatEventKind::Returned => "returned",
            SeatEventKind::Overdraft { .. } => "overdraft",
            SeatEventKind::Rebuilt { .. } => "rebuilt",
            SeatEventKind::Reaped { .. } => "reaped",
            SeatEventKind::Queued { .. } => "queued",
            SeatEventKind::QueueEnded { .. } => "queue_ended",
            SeatEventKind::EventsLost { .. } => "events_lost",
            SeatEventKind::Checkpoint { .. } => "checkpoint",
            SeatEventKind::AdminChange { .. } => "admin_change",
            SeatEventKind::WebhookDisabled { .. } => "webhook_disabled",
        }
    }
}

/// One thing that happened to a tenant's seats or data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeatEvent {
    /// When (the use case's clock).
    pub at: DateTime<Utc>,
    /// Whose.
    pub tenant_id: TenantId,
    /// The license concerned, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_id: Option<LicenseId>,
    /// The session concerned, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// The machine concerned, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware_id: Option<String>,
    /// The person the session is for, when the client named one (`user_email`, or an ID
    /// token's e-mail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// What happened (flattened: `type` plus its fields).
    #[serde(flatten)]
    pub kind: SeatEventKind,
}

impl SeatEvent {
    /// An event with no ids beyond the tenant; add them with the builder methods.
    pub fn new(at: DateTime<Utc>, tenant_id: TenantId, kind: SeatEventKind) -> Self {
        Self {
            at,
            tenant_id,
            license_id: None,
            session_id: None,
            hardware_id: None,
            user: None,
            kind,
        }
    }

    /// Names the license.
    pub fn license(mut self, id: LicenseId) -> Self {
        self.license_id = Some(id);
        self
    }

    /// Names the session.
    pub fn session(mut self, id: SessionId) -> Self {
        self.session_id = Some(id);
        self
    }

    /// Names the machine.
    pub fn hardware(mut self, id: &str) -> Self {
        self.hardware_id = Some(id.to_owned());
        self
    }

    /// Names the person.
    pub fn user(mut self, email: &str) -> Self {
        self.user = Some(email.to_owned());
        self
    }

    /// The event for an audited admin change.
    pub fn admin_change(audit: &AuditEvent) -> Self {
        Self::new(
            audit.at,
            audit.tenant_id,
            SeatEventKind::AdminChange {
                action: audit.action.clone(),
                target: audit.target.clone(),
                actor: audit.actor.to_label(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: SeatEventKind) -> SeatEvent {
        SeatEvent::new(Utc::now(), TenantId::new(), kind)
    }

    #[test]
    fn the_schema_names_its_fields() -> Result<(), serde_json::Error> {
        let license = LicenseId::new();
        let session = SessionId::new();
        let e = event(SeatEventKind::Denied {
            reason: DenialReason::NoSeats,
        })
        .license(license)
        .session(session)
        .hardware("hw-1");
        let json = serde_json::to_value(&e)?;
        assert_eq!(json["type"], "denied");
        assert_eq!(json["reason"], "no_seats");
        assert_eq!(json["license_id"], license.to_string());
        assert_eq!(json["session_id"], session.to_string());
        assert_eq!(json["hardware_id"], "hw-1");
        let bare = serde_json::to_value(event(SeatEventKind::Held))?;
        assert!(bare.get("license_id").is_none(), "absent ids are left out");
        assert_eq!(bare["type"], "held");
        Ok(())
    }

    #[test]
    fn every_kind_serializes_with_its_name() -> Result<(), serde_json::Error> {
        let kinds = [
            SeatEventKind::Granted { in_use: 1 },
            SeatEventKind::Held,
            SeatEventKind::Denied {
                reason: DenialReason::LicenseExpired,
            },
            SeatEventKind::Renewed,
            SeatEventKind::Released,
            SeatEventKind::Expired { ended_at: None },
            SeatEventKind::Revoked,
            SeatEventKind::Rebuilt { seats: 3 },
            SeatEventKind::Reaped { sessions: 2 },
            SeatEventKind::EventsLost { count: 4 },
            SeatEventKind::Checkpoint {
                seq: 9,
                hash: crate::event_log::ChainHash::GENESIS,
                checkpoint: "a.b.c".into(),
            },
            SeatEventKind::Queued {
                position: 2,
                wait_until: Utc::now(),
            },
            SeatEventKind::QueueEnded {
                reason: QueueEndReason::Left,
            },
            SeatEventKind::AdminChange {
                action: "license.create".into(),
                target: "license:x".into(),
                actor: "operator".into(),
            },
        ];
        for kind in kinds {
            let name = kind.name();
            assert_eq!(serde_json::to_value(event(kind))?["type"], name);
        }
        Ok(())
    }
}
