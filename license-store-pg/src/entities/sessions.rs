use license_core::{
    Counter, EndReason, Eviction, HardwareId, LicenseId, Session, SessionId, SessionSecretHash,
    TenantId, UserEmail,
};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use super::{actor_columns, actor_from_columns, stored_time};
use crate::errors::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub license_id: Uuid,
    pub hardware_id: String,
    pub user_email: Option<String>,
    pub acquired_at: DateTimeUtc,
    pub last_heartbeat_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    pub end_reason: Option<String>,
    /// The acquiring credential, as the audit log stores actors; both `None` for sessions from
    /// before m0005.
    pub holder_kind: Option<String>,
    pub holder_id: Option<String>,
    /// SHA-256 of the session secret, lower-case hex.
    pub secret_hash: Option<String>,
    /// Borrowed for offline work (m0006).
    pub borrowed: bool,
    /// Granted into the license's overdraft (m0006).
    pub overdraft: bool,
    /// After a release: the seat stays held for its machine until then.
    pub linger_until: Option<DateTimeUtc>,
    /// Set iff an administrator evicted the session: why.
    pub eviction_reason: Option<String>,
    /// The eviction's hold-off end, when it has one.
    pub hold_until: Option<DateTimeUtc>,
    /// The seat's key in the ledger when it is not `hardware_id` (m0007): a person's or a
    /// process's seat.
    pub seat_key: Option<String>,
    /// The policy counters the seat counts toward, a JSON array of text; NULL: none (also
    /// written for none).
    pub counters: Option<String>,
    /// The ledger's grant of the seat is on record (m0008): false from the insert until the
    /// write-behind's first renewal record.
    pub confirmed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> license_core::Result<Session> {
        const WHAT: &str = "session";
        Ok(Session {
            id: SessionId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            license_id: LicenseId::from_uuid(self.license_id),
            hardware_id: HardwareId::parse(&self.hardware_id).map_err(|e| corrupt(WHAT, e))?,
            user_email: self
                .user_email
                .map(|e| UserEmail::parse(&e))
                .transpose()
                .map_err(|e| corrupt(WHAT, e))?,
            acquired_at: self.acquired_at,
            last_heartbeat_at: self.last_heartbeat_at,
            expires_at: self.expires_at,
            ended_at: self.ended_at,
            end_reason: self
                .end_reason
                .map(|r| EndReason::parse(&r))
                .transpose()
                .map_err(|e| corrupt(WHAT, e))?,
            holder: self
                .holder_kind
                .map(|kind| actor_from_columns(WHAT, &kind, self.holder_id))
                .transpose()?,
            secret_hash: self
                .secret_hash
                .map(|h| SessionSecretHash::from_hex(&h))
                .transpose()
                .map_err(|e| corrupt(WHAT, e))?,
            borrowed: self.borrowed,
            overdraft: self.overdraft,
            linger_until: self.linger_until,
            eviction: self.eviction_reason.map(|reason| Eviction {
                reason,
                hold_until: self.hold_until,
            }),
            seat_key: self
                .seat_key
                .map(|k| HardwareId::parse_seat_key(&k))
                .transpose()
                .map_err(|e| corrupt(WHAT, e))?,
            counters: match self.counters {
                Some(text) => serde_json::from_str::<Vec<String>>(&text)
                    .map_err(|e| corrupt(WHAT, e))?
                    .into_iter()
                    .map(Counter)
                    .collect(),
                None => Vec::new(),
            },
            confirmed: self.confirmed,
        })
    }
}

impl From<&Session> for ActiveModel {
    fn from(s: &Session) -> Self {
        let holder = s.holder.as_ref().map(actor_columns);
        ActiveModel {
            id: Set(s.id.as_uuid()),
            tenant_id: Set(s.tenant_id.as_uuid()),
            license_id: Set(s.license_id.as_uuid()),
            hardware_id: Set(s.hardware_id.as_str().to_owned()),
            user_email: Set(s.user_email.as_ref().map(|e| e.as_str().to_owned())),
            acquired_at: Set(stored_time(s.acquired_at)),
            last_heartbeat_at: Set(stored_time(s.last_heartbeat_at)),
            expires_at: Set(stored_time(s.expires_at)),
            ended_at: Set(s.ended_at.map(stored_time)),
            end_reason: Set(s.end_reason.map(|r| r.as_str().to_owned())),
            holder_kind: Set(holder.as_ref().map(|(kind, _)| (*kind).to_owned())),
            holder_id: Set(holder.and_then(|(_, id)| id)),
            secret_hash: Set(s.secret_hash.map(|h| h.to_hex())),
            borrowed: Set(s.borrowed),
            overdraft: Set(s.overdraft),
            linger_until: Set(s.linger_until.map(stored_time)),
            eviction_reason: Set(s.eviction.as_ref().map(|e| e.reason.clone())),
            hold_until: Set(s
                .eviction
                .as_ref()
                .and_then(|e| e.hold_until)
                .map(stored_time)),
            seat_key: Set(s.seat_key.as_ref().map(|k| k.as_str().to_owned())),
            counters: Set(counters_text(&s.counters)),
            confirmed: Set(s.confirmed),
        }
    }
}

/// The counters as stored: a JSON array of their texts, NULL when there are none.
fn counters_text(counters: &[Counter]) -> Option<String> {
    if counters.is_empty() {
        return None;
    }
    let texts = counters
        .iter()
        .map(|c| serde_json::Value::String(c.0.clone()))
        .collect();
    Some(serde_json::Value::Array(texts).to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::{DateTime, TimeDelta};
    use license_core::Error;
    use sea_orm::TryIntoModel;

    use super::*;

    fn session() -> Session {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Session::start(
            SessionId::new(),
            TenantId::new(),
            LicenseId::new(),
            HardwareId::parse("pc-1").unwrap(),
            None,
            now,
            now + TimeDelta::minutes(5),
        )
    }

    fn row(s: &Session) -> Model {
        ActiveModel::from(s).try_into_model().unwrap()
    }

    #[test]
    fn seat_key_and_counters_round_trip_and_none_is_null() {
        let plain = session();
        let stored = row(&plain);
        assert_eq!((&stored.seat_key, &stored.counters), (&None, &None));
        assert_eq!(stored.into_domain().unwrap(), plain);

        let keyed = session().keyed(
            Some(HardwareId::parse_seat_key("pc-1#4711").unwrap()),
            vec![Counter::group("eng"), Counter::machine("pc-1")],
        );
        let stored = row(&keyed);
        assert_eq!(stored.counters.as_deref(), Some(r#"["g:eng","m:pc-1"]"#));
        assert_eq!(stored.into_domain().unwrap(), keyed);
    }

    #[test]
    fn malformed_seat_keys_and_counters_are_internal_errors() {
        let bad = [
            (Some("#shadow 1"), None),
            (Some("two words"), None),
            (None, Some("not json")),
            (None, Some("[1, 2]")),
            (None, Some(r#"{"g:eng": 1}"#)),
        ];
        for (seat_key, counters) in bad {
            let stored = Model {
                seat_key: seat_key.map(str::to_owned),
                counters: counters.map(str::to_owned),
                ..row(&session())
            };
            let err = stored.into_domain().unwrap_err();
            assert!(
                matches!(&err, Error::Internal(m) if m == "stored session is invalid"),
                "{seat_key:?} {counters:?}: {err:?}"
            );
        }
    }
}
