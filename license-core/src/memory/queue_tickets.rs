use std::cmp::Reverse;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::error::{Dependency, Error, Resource, Result};
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::queue_tickets::{QueueTicket, QueueTicketStore};

#[async_trait]
impl QueueTicketStore for MemoryStore {
    async fn record_ticket(&self, ticket: &QueueTicket) -> Result<()> {
        if self.ticket_records_fail() {
            return Err(Error::unavailable(
                Dependency::Store,
                "in-memory ticket records switched off",
            ));
        }
        let mut data = self.lock()?;
        if data
            .licenses
            .get(&ticket.license_id)
            .is_none_or(|l| l.tenant_id != ticket.tenant_id)
        {
            return Err(Error::NotFound(Resource::License));
        }
        data.queue_tickets.insert(ticket.ticket, ticket.clone());
        Ok(())
    }

    async fn delete_ticket(&self, tenant: TenantId, ticket: SessionId) -> Result<bool> {
        let mut data = self.lock()?;
        if data
            .queue_tickets
            .get(&ticket)
            .is_none_or(|t| t.tenant_id != tenant)
        {
            return Ok(false);
        }
        Ok(data.queue_tickets.remove(&ticket).is_some())
    }

    async fn live_tickets(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueueTicket>> {
        let data = self.lock()?;
        let mut live: Vec<QueueTicket> = data
            .queue_tickets
            .values()
            .filter(|t| t.tenant_id == tenant && t.license_id == license && t.wait_until > now)
            .cloned()
            .collect();
        live.sort_by_key(|t| (Reverse(t.priority), t.arrival, t.joined_at, t.ticket));
        Ok(live)
    }

    async fn delete_expired_tickets(
        &self,
        tenant: TenantId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        let mut data = self.lock()?;
        let due: Vec<SessionId> = data
            .queue_tickets
            .values()
            .filter(|t| t.tenant_id == tenant && t.wait_until <= before)
            .take(limit as usize)
            .map(|t| t.ticket)
            .collect();
        for id in &due {
            data.queue_tickets.remove(id);
        }
        Ok(due.len() as u64)
    }
}
