//! A seat event as read back from the log: the fields reports use, parsed from an entry's
//! JSON text. Unknown types and fields are ignored (the schema only grows, `docs/events.md`).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::ids::{LicenseId, SessionId};

/// The parts of a logged event a report reads.
#[derive(Clone, Debug, Deserialize)]
pub(super) struct LoggedEvent {
    /// The event's `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    pub license_id: Option<LicenseId>,
    pub session_id: Option<SessionId>,
    pub hardware_id: Option<String>,
    pub user: Option<String>,
    /// `expired` by the reaper: when the session ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// `borrowed`: the borrow's end.
    pub until: Option<DateTime<Utc>>,
    /// `events_lost`: how many.
    pub count: Option<u64>,
}

/// What a logged event means for a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Meaning {
    /// A seat was taken (`granted`, `borrowed`).
    SeatTaken,
    /// The seat went past `seats_total` (`overdraft`, after its grant).
    Overdraft,
    /// The session's seat is free again (`released`, `returned`, `expired`, `revoked`,
    /// `evicted`).
    SeatFreed,
    /// An acquire was refused (`denied`).
    Denied,
    /// A client joined the queue (`queued`).
    Queued,
    /// A wait ended without a seat (`queue_ended`).
    QueueEnded,
    /// Events the log's writer had to drop (`events_lost`).
    Lost,
    /// Nothing a report counts.
    Other,
}

impl LoggedEvent {
    /// Entry `seq`'s body, read.
    pub fn parse(seq: u64, body: &str) -> crate::error::Result<Self> {
        serde_json::from_str(body).map_err(|e| {
            crate::error::Error::Internal(format!("event log entry {seq} is not an event: {e}"))
        })
    }

    pub fn meaning(&self) -> Meaning {
        match self.kind.as_str() {
            "granted" | "borrowed" => Meaning::SeatTaken,
            "overdraft" => Meaning::Overdraft,
            "released" | "returned" | "expired" | "revoked" | "evicted" => Meaning::SeatFreed,
            "denied" => Meaning::Denied,
            "queued" => Meaning::Queued,
            "queue_ended" => Meaning::QueueEnded,
            "events_lost" => Meaning::Lost,
            _ => Meaning::Other,
        }
    }

    /// When the seat was freed: the reaper's `ended_at`, else the event's instant.
    pub fn freed_at(&self) -> DateTime<Utc> {
        self.ended_at.unwrap_or(self.at)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn unknown_types_and_fields_are_read_as_other() {
        let e: LoggedEvent = serde_json::from_str(
            r#"{"type":"teleported","at":"2026-11-27T10:00:00Z","tenant_id":"x","warp":9}"#,
        )
        .unwrap();
        assert_eq!(e.meaning(), Meaning::Other);
        let e: LoggedEvent = serde_json::from_str(
            r#"{"type":"expired","at":"2026-11-27T10:05:00Z","ended_at":"2026-11-27T10:01:00Z"}"#,
        )
        .unwrap();
        assert_eq!(
            (e.meaning(), e.freed_at().to_rfc3339()),
            (Meaning::SeatFreed, "2026-11-27T10:01:00+00:00".into())
        );
    }
}
