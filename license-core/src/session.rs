//! Sessions: one running application holding one seat.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::error::{Error, Result};
use crate::holder::SessionSecretHash;
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::license::validate_token_chars;
use crate::seat_ledger::SeatKind;
use crate::seat_policy::Counter;

/// A stable fingerprint of the machine (or container) running the application:
/// 1–128 characters of `A–Z a–z 0–9 . _ : - / + =` (hex, base64 and UUIDs all fit).
///
/// Acquire is idempotent per `(license, hardware_id)`.
///
/// ```
/// use license_core::HardwareId;
/// assert!(HardwareId::parse("a1:b2:c3:d4:e5:f6").is_ok());
/// assert!(HardwareId::parse("").is_err());
/// assert!(HardwareId::parse("two words").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HardwareId(String);

impl HardwareId {
    /// Longest accepted id.
    pub const MAX_LEN: usize = 128;

    /// Validates a hardware id.
    pub fn parse(id: &str) -> Result<Self> {
        validate_token_chars("hardware_id", id, 1, Self::MAX_LEN, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-' | '/' | '+' | '=')
        })?;
        Ok(Self(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl HardwareId {
    /// The machine of a rebuilt ledger's shadow seat (see `rebuild`): a character no client's
    /// hardware id may hold, so no acquire can ever name it.
    pub(crate) fn shadow(session: SessionId) -> Self {
        Self(format!("#shadow {session}"))
    }

    /// The seat key of a person under per-user leasing (ADR 0026): `#` keeps it apart from
    /// every client's hardware id.
    pub(crate) fn of_user(user: &crate::seat_ledger::UserRef) -> Self {
        Self(format!("#user {}", user.0))
    }

    /// The seat key of one process of a machine under per-process leasing.
    pub(crate) fn of_process(machine: &HardwareId, process: &crate::leasing::ProcessId) -> Self {
        Self(format!("{machine}#{}", process.as_str()))
    }

    /// A seat key read back from storage ([`Session::seat_key`]): a person's seat
    /// (`#user <ref>`), a process's (`<hardware id>#<process id>`) or a machine's. Errors name
    /// `seat_key`; a shadow seat's key is never stored, so it is refused.
    ///
    /// ```
    /// use license_core::HardwareId;
    /// assert!(HardwareId::parse_seat_key("pc-1#4711").is_ok());
    /// assert!(HardwareId::parse_seat_key("#user email:ada@example.com").is_ok());
    /// assert!(HardwareId::parse_seat_key("pc-1").is_ok());
    /// assert!(HardwareId::parse_seat_key("#shadow 1").is_err());
    /// assert!(HardwareId::parse_seat_key("two words").is_err());
    /// ```
    pub fn parse_seat_key(key: &str) -> Result<Self> {
        let invalid = |why: String| Error::invalid("seat_key", why);
        if let Some(user) = key.strip_prefix("#user ") {
            if user.is_empty() || user.chars().any(char::is_control) {
                return Err(invalid("a person's seat key names no one".into()));
            }
            return Ok(Self(key.to_owned()));
        }
        match key.split_once('#') {
            None => Self::parse(key).map_err(|e| invalid(e.to_string())),
            Some((machine, process)) => {
                let machine = Self::parse(machine).map_err(|e| invalid(e.to_string()))?;
                let process = crate::leasing::ProcessId::parse(process)
                    .map_err(|e| invalid(e.to_string()))?;
                Ok(Self::of_process(&machine, &process))
            }
        }
    }
}

impl TryFrom<String> for HardwareId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<HardwareId> for String {
    fn from(id: HardwareId) -> Self {
        id.0
    }
}

impl fmt::Display for HardwareId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The e-mail address of the person using the application (for usage reports): at most
/// 254 bytes, one `@`, no spaces, and [readable](crate::text) (no control, bidirectional or
/// invisible formatting characters).
///
/// ```
/// use license_core::UserEmail;
/// assert!(UserEmail::parse("ada@example.com").is_ok());
/// assert!(UserEmail::parse("not an email").is_err());
/// assert!(UserEmail::parse("ada@\u{202E}moc.elpmaxe").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserEmail(String);

impl UserEmail {
    /// Validates an address (shape only; nothing is sent to it).
    pub fn parse(email: &str) -> Result<Self> {
        crate::text::check_readable("user_email", email)?;
        let ok = email.len() <= 254
            && email.matches('@').count() == 1
            && !email.starts_with('@')
            && !email.ends_with('@')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(Error::invalid(
                "user_email",
                "must look like name@domain (at most 254 characters)",
            ));
        }
        Ok(Self(email.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserEmail {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<UserEmail> for String {
    fn from(e: UserEmail) -> Self {
        e.0
    }
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The client released it.
    Released,
    /// No heartbeat within the TTL.
    Expired,
    /// The license was suspended or revoked (or, before evictions, an administrator ended it).
    Revoked,
    /// An administrator evicted it (force release), maybe with a hold-off: see
    /// [`Session::eviction`].
    Evicted,
}

impl EndReason {
    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EndReason::Released => "released",
            EndReason::Expired => "expired",
            EndReason::Revoked => "revoked",
            EndReason::Evicted => "evicted",
        }
    }

    /// Parses [`EndReason::as_str`] output.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "released" => Ok(EndReason::Released),
            "expired" => Ok(EndReason::Expired),
            "revoked" => Ok(EndReason::Revoked),
            "evicted" => Ok(EndReason::Evicted),
            _ => Err(Error::invalid(
                "end_reason",
                "must be released, expired, revoked or evicted",
            )),
        }
    }
}

/// The durable record of one seat held by one running application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Its id (also the lease token's `sub`).
    pub id: SessionId,
    /// The tenant owning the license.
    pub tenant_id: TenantId,
    /// The license the seat belongs to.
    pub license_id: LicenseId,
    /// The machine holding the seat.
    pub hardware_id: HardwareId,
    /// Who uses it, if the client said.
    pub user_email: Option<UserEmail>,
    /// When the seat was granted.
    pub acquired_at: DateTime<Utc>,
    /// The last successful heartbeat (equals `acquired_at` before the first one).
    pub last_heartbeat_at: DateTime<Utc>,
    /// The seat is free after this instant unless renewed.
    pub expires_at: DateTime<Utc>,
    /// When it ended, if it has.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it ended, if it has.
    pub end_reason: Option<EndReason>,
    /// Who acquired it: the identity of the credential (an OIDC subject binds the session to
    /// that person; see [`holder`](crate::holder)). `None` for sessions recorded before holders
    /// were.
    pub holder: Option<Actor>,
    /// SHA-256 of its session secret, when its license required one at acquire. Never
    /// serialised: it stays in the server.
    #[serde(skip)]
    pub secret_hash: Option<SessionSecretHash>,
    /// Borrowed for offline work: `expires_at` is the borrow's end, no heartbeat is needed.
    #[serde(default)]
    pub borrowed: bool,
    /// Granted beyond the license's `seats_total` (into its overdraft): billable overage.
    #[serde(default)]
    pub overdraft: bool,
    /// After a release: the seat stays held for this machine until then (the license's
    /// linger).
    #[serde(default)]
    pub linger_until: Option<DateTime<Utc>>,
    /// After an eviction: why, and until when the machine and person are held off.
    #[serde(default)]
    pub eviction: Option<Eviction>,
    /// The seat's key in the ledger when it is not `hardware_id`: the person's or the
    /// process's seat under per-user or per-process leasing (ADR 0026).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "seat_key_from_text"
    )]
    pub seat_key: Option<HardwareId>,
    /// The policy counters its seat counts toward (its groups, user, host), as granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counters: Vec<Counter>,
    /// The ledger's grant of its seat is on record: the first renewal record the write-behind
    /// stores (a grant writes one) sets it. `false` from the store-first insert until then, and
    /// for ever in the record of an acquire that never got its seat (its replica died, or the
    /// ledger call failed and the record could not be deleted): a rebuild after a Redis loss
    /// restores such a record as a seat, but it is not handed out as a lease while the license
    /// is over its limit (ADR 0017).
    #[serde(default)]
    pub confirmed: bool,
}

/// A stored seat key (`#user …`, `<hw>#<pid>`) is not a client's hardware id: read it with
/// [`HardwareId::parse_seat_key`].
fn seat_key_from_text<'de, D>(deserializer: D) -> std::result::Result<Option<HardwareId>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(deserializer)?
        .map(|key| HardwareId::parse_seat_key(&key).map_err(serde::de::Error::custom))
        .transpose()
}

/// Why an administrator evicted a session, and for how long its machine (and person) may not
/// acquire again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eviction {
    /// Why, as the administrator said it (1–200 [readable](crate::text) characters).
    pub reason: String,
    /// The end of the hold-off; `None`: no hold-off (the client may acquire again at once).
    pub hold_until: Option<DateTime<Utc>>,
}

/// How a session ends: what [`SessionStore::end_session`](crate::store::SessionStore::end_session)
/// records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionEnd {
    /// `ended_at`.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: EndReason,
    /// The seat lingers for its machine until then (releases of lingering licenses).
    pub linger_until: Option<DateTime<Utc>>,
    /// The eviction (reason [`EndReason::Evicted`] only).
    pub eviction: Option<Eviction>,
}

impl SessionEnd {
    /// An end at `at` for `reason`, with no linger and no eviction.
    ///
    /// ```
    /// use license_core::{EndReason, SessionEnd};
    /// let end = SessionEnd::new(chrono::Utc::now(), EndReason::Released);
    /// assert!(end.linger_until.is_none() && end.eviction.is_none());
    /// ```
    pub fn new(at: DateTime<Utc>, reason: EndReason) -> Self {
        Self {
            at,
            reason,
            linger_until: None,
            eviction: None,
        }
    }
}

impl Session {
    /// A session that starts holding its seat `now` and frees it at `expires_at` unless renewed.
    ///
    /// ```
    /// use license_core::*;
    /// let now = chrono::Utc::now();
    /// let s = Session::start(
    ///     SessionId::new(),
    ///     TenantId::new(),
    ///     LicenseId::new(),
    ///     HardwareId::parse("pc-1")?,
    ///     None,
    ///     now,
    ///     now + chrono::TimeDelta::seconds(360),
    /// );
    /// assert!(s.is_live(now) && s.last_heartbeat_at == s.acquired_at);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn start(
        id: SessionId,
        tenant_id: TenantId,
        license_id: LicenseId,
        hardware_id: HardwareId,
        user_email: Option<UserEmail>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            tenant_id,
            license_id,
            hardware_id,
            user_email,
            acquired_at: now,
            last_heartbeat_at: now,
            expires_at,
            ended_at: None,
            end_reason: None,
            holder: None,
            secret_hash: None,
            borrowed: false,
            overdraft: false,
            linger_until: None,
            eviction: None,
            seat_key: None,
            counters: Vec::new(),
            confirmed: false,
        }
    }

    /// The key of its seat in the ledger: `seat_key` when the license leases per user or per
    /// process, else the machine.
    pub fn seat(&self) -> &HardwareId {
        self.seat_key.as_ref().unwrap_or(&self.hardware_id)
    }

    /// The same session, its seat keyed by `seat_key` (`None`: its machine) and counted toward
    /// `counters` (ADR 0026).
    pub fn keyed(mut self, seat_key: Option<HardwareId>, counters: Vec<Counter>) -> Self {
        self.seat_key = seat_key;
        self.counters = counters;
        self
    }

    /// The same session, acquired by `holder`.
    ///
    /// ```
    /// use license_core::*;
    /// let now = chrono::Utc::now();
    /// let hw = HardwareId::parse("pc-1")?;
    /// let s = Session::start(SessionId::new(), TenantId::new(), LicenseId::new(), hw, None, now, now)
    ///     .held_by(Actor::User("ada".into()));
    /// assert_eq!(s.holder, Some(Actor::User("ada".into())));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn held_by(mut self, holder: Actor) -> Self {
        self.holder = Some(holder);
        self
    }

    /// The same session, borrowed (or not).
    pub fn borrowed(mut self, borrowed: bool) -> Self {
        self.borrowed = borrowed;
        self
    }

    /// The same session, guarded by the secret whose hash is `hash` (none: no secret).
    pub fn with_secret(mut self, hash: Option<SessionSecretHash>) -> Self {
        self.secret_hash = hash;
        self
    }

    /// Whether the session still holds its seat at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.ended_at.is_none() && self.expires_at > now
    }
}

/// What the seat ledger needs to know of a live session to rebuild itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveSeat {
    /// The session holding the seat.
    pub session_id: SessionId,
    /// Its machine (for idempotent acquire).
    pub hardware_id: HardwareId,
    /// When the seat frees itself.
    pub expires_at: DateTime<Utc>,
    /// Held, borrowed or lingering.
    pub kind: SeatKind,
    /// The policy counters it counts toward (ADR 0026).
    pub counters: Vec<Counter>,
}

impl From<&Session> for LiveSeat {
    /// A live session's seat: borrowed if the session is, else held (a lingering seat is an
    /// ended session's: see `rebuild`).
    fn from(s: &Session) -> Self {
        LiveSeat {
            session_id: s.id,
            hardware_id: s.seat().clone(),
            counters: s.counters.clone(),
            expires_at: s.expires_at,
            kind: if s.borrowed {
                SeatKind::Borrowed
            } else {
                SeatKind::Held
            },
        }
    }
}

#[cfg(test)]
mod seat_key_tests {
    use super::*;

    #[test]
    fn a_session_with_a_person_s_or_a_process_s_seat_key_round_trips_through_json() {
        let now = Utc::now();
        let hw = HardwareId::parse("pc-1").unwrap_or_else(|e| panic!("{e}"));
        for key in ["#user email:ada@example.com", "pc-1#4711"] {
            let seat = HardwareId::parse_seat_key(key).unwrap_or_else(|e| panic!("{e}"));
            let session = Session::start(
                SessionId::new(),
                TenantId::new(),
                LicenseId::new(),
                hw.clone(),
                None,
                now,
                now,
            )
            .keyed(Some(seat), vec![Counter::group("eng")]);
            let json = serde_json::to_string(&session).unwrap_or_else(|e| panic!("{e}"));
            let back: Session = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back.seat().as_str(), key);
            assert_eq!(back.counters, session.counters);
        }
        let bad = r##""#shadow 1""##;
        assert!(serde_json::from_str::<HardwareId>(bad).is_err());
    }
}
