//! Reap: mark sessions past their expiry as expired in the store, and delete sessions that
//! ended longer ago than the retention. Seats need no reaping (the ledger frees them at TTL by
//! itself); this keeps the durable record true, and bounded.
//!
//! Deleting old sessions changes no usage figure: the daily peaks and denials are kept per
//! license and day, apart from sessions, written when a seat is granted or refused.

use std::time::Duration;

use chrono::TimeDelta;

use crate::error::{ErrorKind, Result};
use crate::events::{SeatEvent, SeatEventKind};
use crate::ids::{LicenseId, TenantId};
use crate::service::{LicenseService, ttl_of};
use crate::store::Page;

/// What a reaper pass can return.
pub const ERRORS: &[ErrorKind] = &[ErrorKind::Unavailable, ErrorKind::Internal];

/// What one reaper pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReapOutcome {
    /// Tenants scanned.
    pub tenants: u64,
    /// Sessions marked expired by this pass.
    pub expired: u64,
    /// Ended sessions deleted by this pass (older than the retention).
    pub deleted: u64,
    /// Records of queue tickets whose wait ended, deleted by this pass.
    pub tickets: u64,
}

impl LicenseService {
    /// Deletes sessions that ended more than `retention` ago, in the reaper's passes
    /// ([`reap_once`](Self::reap_once)); `None` (the default) keeps them for ever.
    pub fn with_session_retention(mut self, retention: Option<Duration>) -> Self {
        self.session_retention = retention;
        self
    }

    /// Marks every session the store can prove dead as expired, `batch` at a time, tenant by
    /// tenant and license by license. A session is provably dead once its stored expiry plus
    /// the write-behind slack has passed: before that a renewal may still be on its way to the
    /// store (see [`HotPathConfig::proof_slack`](crate::hot_path::HotPathConfig::proof_slack)).
    /// Deletes the records of queue tickets whose wait ended. Then, with a retention set,
    /// deletes the tenant's sessions that ended before it, `batch` at a time.
    ///
    /// Errors: see [`ERRORS`]. Emits `expired` per session marked (with its end, so that
    /// reports count its seat time exactly) and `reaped` per tenant with a count.
    pub async fn reap_once(&self, batch: u32) -> Result<ReapOutcome> {
        let batch = batch.max(1);
        let now = self.clock.now();
        let mut outcome = ReapOutcome::default();
        for tenant in self.licenses.list_tenants().await? {
            outcome.tenants += 1;
            let reaped = self.expire_tenant(tenant.id, now, batch).await?;
            if reaped > 0 {
                let kind = SeatEventKind::Reaped { sessions: reaped };
                self.emit(SeatEvent::new(now, tenant.id, kind));
            }
            outcome.expired += reaped;
            // Tickets whose wait ended: a rebuild would not restore them, so they only take room.
            loop {
                let deleted = self
                    .tickets
                    .delete_expired_tickets(tenant.id, now, batch)
                    .await?;
                outcome.tickets += deleted;
                if deleted < u64::from(batch) {
                    break;
                }
            }
            if let Some(retention) = self.session_retention {
                // A retention too long for the calendar deletes nothing.
                let Some(cutoff) = TimeDelta::from_std(retention)
                    .ok()
                    .and_then(|r| now.checked_sub_signed(r))
                else {
                    continue;
                };
                loop {
                    let deleted = self
                        .sessions
                        .delete_ended_sessions(tenant.id, cutoff, batch)
                        .await?;
                    outcome.deleted += deleted;
                    if deleted < u64::from(batch) {
                        break;
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// Marks the tenant's provably dead sessions expired, license by license.
    async fn expire_tenant(
        &self,
        tenant: TenantId,
        now: chrono::DateTime<chrono::Utc>,
        batch: u32,
    ) -> Result<u64> {
        let mut reaped = 0;
        let mut after = None;
        loop {
            let page = Page::new(after, Page::<LicenseId>::MAX_LIMIT);
            let licenses = self.licenses.list_licenses(tenant, page).await?;
            for license in &licenses {
                let before = now - self.hot_path.proof_slack(ttl_of(license));
                loop {
                    let marked = self
                        .sessions
                        .expire_due(tenant, license.id, before, batch)
                        .await?;
                    for session in &marked {
                        let kind = SeatEventKind::Expired {
                            ended_at: session.ended_at,
                        };
                        self.emit(self.session_event(session, kind));
                    }
                    reaped += marked.len() as u64;
                    if marked.len() < batch as usize {
                        break;
                    }
                }
            }
            match licenses.last() {
                Some(last) if licenses.len() == page.limit as usize => after = Some(last.id),
                _ => return Ok(reaped),
            }
        }
    }
}
