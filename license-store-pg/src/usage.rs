//! Daily usage per license: the peak of seats in use and of seats in the overdraft (raised at
//! each grant) and the number of refused acquisitions. One row per license and UTC day, written by upserts so concurrent
//! replicas never lose an update.

use chrono::NaiveDate;
use license_core::{LicenseId, Result, TenantId, UsageDay, UsagePeak};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::usage_days::{self, Column};
use crate::errors::db_err;

/// Raises the day's peak to `peak.in_use` and its overdraft peak to `peak.overdraft`, each
/// only if higher (`ON CONFLICT … DO UPDATE SET peak_seats = GREATEST(peak_seats, $in_use),
/// overdraft_peak = GREATEST(overdraft_peak, $overdraft)`; `MAX` on SQLite).
pub(crate) async fn raise_peak(db: &impl ConnectionTrait, peak: &UsagePeak) -> Result<()> {
    let in_use = i64::from(peak.in_use);
    let overdraft = i64::from(peak.overdraft);
    let on_conflict = OnConflict::columns([Column::LicenseId, Column::Day])
        .value(
            Column::PeakSeats,
            Func::greatest([
                Expr::col((usage_days::Entity, Column::PeakSeats)),
                Expr::val(in_use),
            ]),
        )
        .value(
            Column::OverdraftPeak,
            Func::greatest([
                Expr::col((usage_days::Entity, Column::OverdraftPeak)),
                Expr::val(overdraft),
            ]),
        )
        .to_owned();
    let row = usage_days::ActiveModel {
        overdraft_peak: Set(overdraft),
        ..row(peak.tenant_id, peak.license_id, peak.day, in_use, 0)
    };
    upsert(db, row, on_conflict).await
}

/// Counts one denial (`ON CONFLICT … DO UPDATE SET denials = denials + 1`).
pub(crate) async fn add_denial(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    license: LicenseId,
    day: NaiveDate,
) -> Result<()> {
    let on_conflict = OnConflict::columns([Column::LicenseId, Column::Day])
        .value(
            Column::Denials,
            Expr::col((usage_days::Entity, Column::Denials)).add(1),
        )
        .to_owned();
    upsert(db, row(tenant, license, day, 0, 1), on_conflict).await
}

/// The license's days between `from` and `to` (inclusive), oldest first.
pub(crate) async fn days(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    license: LicenseId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<UsageDay>> {
    let rows = usage_days::Entity::find()
        .filter(Column::TenantId.eq(tenant.as_uuid()))
        .filter(Column::LicenseId.eq(license.as_uuid()))
        .filter(Column::Day.between(from, to))
        .order_by_asc(Column::Day)
        .all(db)
        .await
        .map_err(db_err)?;
    rows.into_iter()
        .map(usage_days::Model::into_domain)
        .collect()
}

fn row(
    tenant: TenantId,
    license: LicenseId,
    day: NaiveDate,
    peak_seats: i64,
    denials: i64,
) -> usage_days::ActiveModel {
    usage_days::ActiveModel {
        license_id: Set(license.as_uuid()),
        day: Set(day),
        tenant_id: Set(tenant.as_uuid()),
        peak_seats: Set(peak_seats),
        denials: Set(denials),
        overdraft_peak: Set(0),
    }
}

async fn upsert(
    db: &impl ConnectionTrait,
    row: usage_days::ActiveModel,
    on_conflict: OnConflict,
) -> Result<()> {
    usage_days::Entity::insert(row)
        .on_conflict(on_conflict)
        .exec_without_returning(db)
        .await
        .map_err(db_err)?;
    Ok(())
}
