use license_core::{HardwareId, LicenseId, QueueTicket, SeatTally, SessionId, TenantId};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use super::{count, stored_time};
use crate::errors::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "queue_tickets")]
pub struct Model {
    /// The ticket: the session id its lease will have.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub license_id: Uuid,
    /// The seat key it waits for (a hardware id, or the leasing strategy's key).
    pub seat: String,
    pub priority: i64,
    /// The ledger's arrival number at the join.
    pub arrival: i64,
    pub joined_at: DateTimeUtc,
    pub wait_until: DateTimeUtc,
    /// The ticket's `SeatTally` as JSON text.
    pub tally: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

const WHAT: &str = "queue ticket";

impl Model {
    pub(crate) fn into_domain(self) -> license_core::Result<QueueTicket> {
        Ok(QueueTicket {
            tenant_id: TenantId::from_uuid(self.tenant_id),
            license_id: LicenseId::from_uuid(self.license_id),
            ticket: SessionId::from_uuid(self.id),
            seat: HardwareId::parse_seat_key(&self.seat).map_err(|e| corrupt(WHAT, e))?,
            priority: count(WHAT, self.priority)?,
            arrival: u64::try_from(self.arrival).map_err(|e| corrupt(WHAT, e))?,
            joined_at: self.joined_at,
            wait_until: self.wait_until,
            tally: serde_json::from_str::<SeatTally>(&self.tally).map_err(|e| corrupt(WHAT, e))?,
        })
    }
}

impl ActiveModel {
    /// The row of `t`; an arrival past `i64::MAX` (never made by a ledger) is refused.
    pub(crate) fn of(t: &QueueTicket) -> license_core::Result<Self> {
        let arrival = i64::try_from(t.arrival)
            .map_err(|_| license_core::Error::invalid("arrival", "too large"))?;
        let tally = serde_json::to_string(&t.tally)
            .map_err(|e| license_core::Error::Internal(format!("queue ticket tally: {e}")))?;
        Ok(ActiveModel {
            id: Set(t.ticket.as_uuid()),
            tenant_id: Set(t.tenant_id.as_uuid()),
            license_id: Set(t.license_id.as_uuid()),
            seat: Set(t.seat.as_str().to_owned()),
            priority: Set(i64::from(t.priority)),
            arrival: Set(arrival),
            joined_at: Set(stored_time(t.joined_at)),
            wait_until: Set(stored_time(t.wait_until)),
            tally: Set(tally),
        })
    }
}
