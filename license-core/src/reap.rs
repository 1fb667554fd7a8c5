//! Reap: mark sessions past their expiry as expired in the store. Seats need no reaping (the
//! ledger frees them at TTL by itself); this keeps the durable record true.

use crate::error::{ErrorKind, Result};
use crate::events::{SeatEvent, SeatEventKind};
use crate::ids::LicenseId;
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
}

impl LicenseService {
    /// Marks every session the store can prove dead as expired, `batch` at a time, tenant by
    /// tenant and license by license. A session is provably dead once its stored expiry plus
    /// the write-behind slack has passed: before that a renewal may still be on its way to the
    /// store (see [`HotPathConfig::proof_slack`](crate::hot_path::HotPathConfig::proof_slack)).
    ///
    /// Errors: see [`ERRORS`]. Emits `reaped` per tenant with a count.
    pub async fn reap_once(&self, batch: u32) -> Result<ReapOutcome> {
        let batch = batch.max(1);
        let now = self.clock.now();
        let mut outcome = ReapOutcome::default();
        for tenant in self.licenses.list_tenants().await? {
            outcome.tenants += 1;
            let mut reaped = 0;
            let mut after = None;
            loop {
                let page = Page::new(after, Page::<LicenseId>::MAX_LIMIT);
                let licenses = self.licenses.list_licenses(tenant.id, page).await?;
                for license in &licenses {
                    let before = now - self.hot_path.proof_slack(ttl_of(license));
                    loop {
                        let marked = self
                            .sessions
                            .expire_due(tenant.id, license.id, before, batch)
                            .await?;
                        reaped += marked;
                        if marked < u64::from(batch) {
                            break;
                        }
                    }
                }
                match licenses.last() {
                    Some(last) if licenses.len() == page.limit as usize => after = Some(last.id),
                    _ => break,
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
