//! Reap: mark sessions past their expiry as expired in the store. Seats need no reaping (the
//! ledger frees them at TTL by itself); this keeps the durable record true.

use crate::error::{ErrorKind, Result};
use crate::events::{SeatEvent, SeatEventKind};
use crate::service::LicenseService;

/// What a reaper pass can return.
pub const ERRORS: &[ErrorKind] = &[ErrorKind::Unavailable, ErrorKind::Internal];

/// What one reaper pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReapOutcome {
    /// Tenants scanned.
    pub tenants: u64,
    /// Sessions marked expired by this pass.
    pub expired: u64,
}

impl LicenseService {
    /// One reaper pass: marks every session past its expiry as expired in the store, in
    /// batches of `batch`. Safe on every replica at once. Emits `reaped` per tenant that had
    /// any.
    pub async fn reap_once(&self, batch: u32) -> Result<ReapOutcome> {
        let batch = batch.max(1);
        let now = self.clock.now();
        let mut outcome = ReapOutcome::default();
        for tenant in self.licenses.list_tenants().await? {
            outcome.tenants += 1;
            let mut reaped = 0;
            loop {
                let marked = self.sessions.expire_due(tenant.id, now, batch).await?;
                reaped += marked;
                if marked < u64::from(batch) {
                    break;
                }
            }
            if reaped > 0 {
                let kind = SeatEventKind::Reaped { sessions: reaped };
                self.emit(SeatEvent::new(now, tenant.id, kind));
            }
            outcome.expired += reaped;
        }
        Ok(outcome)
    }
}
