//! Keyset pagination: a page is "at most `limit` items after this key", so a listing costs
//! one bounded query however long the list is, and an item is seen once even while others
//! are added.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::ids::SessionId;
use crate::session::Session;

/// Items after `after` in the listing's order, at most `limit` of them. Licenses are listed
/// by id (time-ordered UUIDv7), sessions by [`SessionCursor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page<Key> {
    /// Start after this key; `None` for the first page.
    pub after: Option<Key>,
    /// Page size (1–500).
    pub limit: u32,
}

impl<Key> Page<Key> {
    /// Largest page size.
    pub const MAX_LIMIT: u32 = 500;

    /// A page, with `limit` clamped to 1–500.
    pub fn new(after: Option<Key>, limit: u32) -> Self {
        Self {
            after,
            limit: limit.clamp(1, Self::MAX_LIMIT),
        }
    }
}

/// Where a page of sessions ends: sessions are listed by `(acquired_at, id)`, oldest first,
/// because session ids carry no order (they are random). New sessions are acquired now, so
/// they land after every cursor already handed out.
///
/// Its text form (`<seconds since the epoch>.<nanoseconds>_<session id>`, exact whatever
/// precision the store keeps) is what the API hands out as an opaque cursor.
///
/// ```
/// use license_core::{SessionCursor, SessionId};
/// let cursor = SessionCursor { acquired_at: chrono::Utc::now(), id: SessionId::new() };
/// let text = cursor.to_string();
/// let back: SessionCursor = text.parse()?;
/// assert_eq!(back, cursor);
/// assert!("not-a-cursor".parse::<SessionCursor>().is_err());
/// # Ok::<(), license_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionCursor {
    /// The last session's `acquired_at` (first sort key).
    pub acquired_at: DateTime<Utc>,
    /// The last session's id (breaks ties between sessions acquired in the same microsecond).
    pub id: SessionId,
}

impl SessionCursor {
    /// The cursor just after `session`.
    pub fn after(session: &Session) -> Self {
        Self {
            acquired_at: session.acquired_at,
            id: session.id,
        }
    }

    /// Whether `session` comes after this cursor in the listing's order.
    pub fn precedes(&self, session: &Session) -> bool {
        (self.acquired_at, self.id) < (session.acquired_at, session.id)
    }
}

impl fmt::Display for SessionCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}_{}",
            self.acquired_at.timestamp(),
            self.acquired_at.timestamp_subsec_nanos(),
            self.id.as_uuid().simple()
        )
    }
}

impl FromStr for SessionCursor {
    type Err = Error;

    /// Parses the text form; anything else is `invalid_input` naming `cursor`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid("cursor", "is not a cursor this server handed out");
        let (at, id) = s.split_once('_').ok_or_else(bad)?;
        let (secs, nanos) = at.split_once('.').ok_or_else(bad)?;
        let secs: i64 = secs.parse().map_err(|_| bad())?;
        let nanos: u32 = nanos.parse().map_err(|_| bad())?;
        if nanos >= 1_000_000_000 {
            return Err(bad());
        }
        let acquired_at = DateTime::from_timestamp(secs, nanos).ok_or_else(bad)?;
        let id = Uuid::try_parse(id).map_err(|_| bad())?;
        Ok(Self {
            acquired_at,
            id: SessionId::from_uuid(id),
        })
    }
}
