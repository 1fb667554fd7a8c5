use license_core::event_log::{ChainHash, LogEntry};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use super::stored_time;
use crate::errors::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The entry's number in the tenant's log, from 1 (the domain's `u64`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub at: DateTimeUtc,
    pub replica: String,
    /// The event's JSON text, byte for byte.
    pub body: String,
    /// 32 bytes: the previous entry's hash (zeros for the first).
    pub prev_hash: Vec<u8>,
    /// 32 bytes: this entry's hash.
    pub hash: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> license_core::Result<LogEntry> {
        const WHAT: &str = "event log entry";
        Ok(LogEntry {
            seq: u64::try_from(self.seq).map_err(|e| corrupt(WHAT, e))?,
            at: self.at,
            replica: self.replica,
            body: self.body,
            prev_hash: chain_hash(WHAT, &self.prev_hash)?,
            hash: chain_hash(WHAT, &self.hash)?,
        })
    }
}

/// A stored hash column back to a [`ChainHash`]: exactly 32 bytes, or the row is corrupt.
pub(crate) fn chain_hash(what: &'static str, bytes: &[u8]) -> license_core::Result<ChainHash> {
    ChainHash::from_slice(bytes)
        .ok_or_else(|| corrupt(what, format!("a hash of {} bytes", bytes.len())))
}

impl ActiveModel {
    /// The row of `entry` in `tenant`'s log.
    pub(crate) fn from_entry(tenant: Uuid, entry: LogEntry) -> license_core::Result<Self> {
        Ok(ActiveModel {
            tenant_id: Set(tenant),
            seq: Set(i64::try_from(entry.seq).map_err(|_| {
                license_core::Error::Internal("the event log's numbers ran out".into())
            })?),
            at: Set(stored_time(entry.at)),
            replica: Set(entry.replica),
            body: Set(entry.body),
            prev_hash: Set(entry.prev_hash.as_bytes().to_vec()),
            hash: Set(entry.hash.as_bytes().to_vec()),
        })
    }
}
