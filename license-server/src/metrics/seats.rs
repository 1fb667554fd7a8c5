//! Seats per license: in use, the limit and the seats sold, one series each per license this
//! replica served recently (set by `seat_gauges`, which also drops them). Every replica reads
//! the same ledger, so queries take `max by (tenant_id, license_id)`.

use license_core::{LicenseId, SeatUsage, TenantId};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeatLabels {
    tenant_id: String,
    license_id: String,
}

impl SeatLabels {
    fn of(tenant: TenantId, license: LicenseId) -> Self {
        Self {
            tenant_id: tenant.to_string(),
            license_id: license.to_string(),
        }
    }
}

/// Handles on the per-license seat gauges; clones set the same series.
#[derive(Clone, Debug, Default)]
pub struct SeatMetrics {
    in_use: Family<SeatLabels, Gauge>,
    limit: Family<SeatLabels, Gauge>,
    sold: Family<SeatLabels, Gauge>,
}

impl SeatMetrics {
    /// Registers the series in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "license_seats_in_use",
            "Live seats of a license as the ledger counts them, every metrics.seat_gauge_seconds, for licenses this replica served in the last 15 minutes (every replica reports the same figure: take max by tenant_id, license_id)",
            metrics.in_use.clone(),
        );
        registry.register(
            "license_seats_limit",
            "Most live seats a license allows at once: seats_total plus overdraft (same licenses as license_seats_in_use)",
            metrics.limit.clone(),
        );
        registry.register(
            // Not `license_seats_total`: `_total` is the counter suffix (promtool check metrics
            // warns on a gauge wearing it, and monitoring.py reads it as a counter's series).
            "license_seats_sold",
            "Seats sold on a license, its seats_total (same licenses as license_seats_in_use)",
            metrics.sold.clone(),
        );
        metrics
    }

    /// Shows `usage` for a license.
    pub fn set(&self, tenant: TenantId, license: LicenseId, usage: SeatUsage) {
        let labels = SeatLabels::of(tenant, license);
        self.in_use
            .get_or_create(&labels)
            .set(i64::from(usage.in_use));
        self.limit
            .get_or_create(&labels)
            .set(i64::from(usage.limit));
        self.sold
            .get_or_create(&labels)
            .set(i64::from(usage.seats_total));
    }

    /// Drops a license's series.
    pub fn remove(&self, tenant: TenantId, license: LicenseId) {
        let labels = SeatLabels::of(tenant, license);
        self.in_use.remove(&labels);
        self.limit.remove(&labels);
        self.sold.remove(&labels);
    }
}
