//! Seat usage: how many seats a license has in use now against what it allows, for gauges and
//! dashboards. A read: it changes nothing, emits no event and never rebuilds a ledger that lost
//! its state (the next acquire or heartbeat of that license does; a monitoring scan over every
//! license must not turn a Redis loss into a burst of rebuilds).

use crate::error::{Dependency, Error, ErrorKind, Result};
use crate::ids::{LicenseId, TenantId};
use crate::seat_ledger::LiveCount;
use crate::service::{LicenseService, ledger_key};

/// What [`LicenseService::seat_usage`] can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// A license's seats at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeatUsage {
    /// Live seats, as the ledger counts them.
    pub in_use: u32,
    /// Most live seats at once: `seats_total` plus the overdraft.
    pub limit: u32,
    /// Seats sold (`seats_total`).
    pub seats_total: u32,
}

impl LicenseService {
    /// The seats of a license now: the live count from one ledger call, and the license's
    /// limit and seats as this replica's license cache has them (so at most
    /// `hot_path.policy_ttl` old). `Unavailable` when the ledger does not answer or has lost
    /// this license's state (nothing is rebuilt here); `NotFound` for a license that is gone.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use license_core::{memory, *};
    ///
    /// # futures::executor::block_on(async {
    /// let clock = Arc::new(SystemClock);
    /// let store = Arc::new(memory::MemoryStore::default());
    /// let ledger = Arc::new(memory::MemoryLedger::new(clock.clone()));
    /// let root = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA)?);
    /// let service = LicenseService::new(store.clone(), ledger, root, clock.clone(), "acme");
    /// let admin = AdminService::new(store, clock);
    /// let tenant = admin.create_tenant("Acme", &Actor::Operator).await?;
    /// let mut new = NewLicense::new("CAD", SeatCount::new(5)?);
    /// new.overdraft = 2;
    /// let license = admin.create_license(tenant.id, new, &Actor::Operator).await?;
    ///
    /// let hw = HardwareId::parse("pc-1")?;
    /// service.acquire(tenant.id, &Actor::System, &license.key, &hw, None).await?;
    /// let usage = service.seat_usage(tenant.id, license.id).await?;
    /// assert_eq!((usage.in_use, usage.limit, usage.seats_total), (1, 7, 5));
    /// # Ok::<(), Error>(()) }).unwrap();
    /// ```
    pub async fn seat_usage(&self, tenant: TenantId, license_id: LicenseId) -> Result<SeatUsage> {
        let license = self
            .policy
            .by_id(self.licenses.as_ref(), tenant, license_id)
            .await?;
        match self.ledger.live_count(&ledger_key(&license)).await? {
            LiveCount::Count(in_use) => Ok(SeatUsage {
                in_use,
                limit: license.seat_limit(),
                seats_total: license.seats.get(),
            }),
            LiveCount::Rebuild => Err(Error::unavailable(
                Dependency::Ledger,
                "the seat ledger has no state for this license (the next acquire or heartbeat rebuilds it)",
            )),
        }
    }
}
