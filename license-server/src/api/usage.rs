//! Admin: a license's usage — seats in use now, and daily peaks, denials and overdraft.

use std::sync::Arc;

use chrono::TimeDelta;
use license_core::LicenseId;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::day::Day;
use super::error::AdminError;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// Admin routes for usage figures.
#[derive(Debug)]
pub struct UsageApi;

/// One UTC day of a license's usage.
#[derive(Object, Debug)]
pub struct UsageDayDto {
    /// The UTC day.
    pub day: Day,
    /// Most seats in use at once that day.
    pub peak_seats: u32,
    /// Acquisitions refused for lack of seats that day.
    pub denials: u32,
    /// Seats in use beyond `seats_total` at the day's peak (as seen at each grant): the
    /// overdraft in use.
    pub overdraft_peak: u32,
    /// Minutes that day held by sessions granted into the overdraft: the billable overage (a
    /// live session counts up to now).
    pub overdraft_seat_minutes: u64,
}

/// A license's usage.
#[derive(Object, Debug)]
pub struct Usage {
    /// The license.
    pub license_id: Uuid,
    /// Seats in use now.
    pub live_seats: u32,
    /// Days with activity between `from` and `to`, oldest first.
    pub days: Vec<UsageDayDto>,
}

/// The usage.
#[derive(ApiResponse, Debug)]
pub enum UsageOk {
    /// Seats now, and daily figures.
    #[oai(status = 200)]
    Ok(Json<Usage>),
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Usage")]
impl UsageApi {
    /// Get a license's usage
    ///
    /// Seats in use now, and per UTC day between `from` and `to` (inclusive, at most 366
    /// days; default the last 30 days) the peak concurrency, the refused acquisitions, and
    /// the overdraft: seats beyond `seats_total` at the peak and overdraft seat-minutes.
    #[oai(
        path = "/licenses/:license_id/usage",
        method = "get",
        operation_id = "get_license_usage"
    )]
    async fn usage(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
        /// First UTC day (default: 29 days before `to`).
        from: Query<Option<Day>>,
        /// Last UTC day (default: today).
        to: Query<Option<Day>>,
    ) -> Result<UsageOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let id = LicenseId::from_uuid(license_id.0);
        let to = to.0.map_or_else(|| state.clock.now().date_naive(), |d| d.0);
        let from = from.0.map_or(to - TimeDelta::days(29), |d| d.0);
        let live_seats = state.service.live_seats(tenant, id).await?;
        let days = state.admin.usage(tenant, id, from, to).await?;
        Ok(UsageOk::Ok(Json(Usage {
            license_id: id.as_uuid(),
            live_seats,
            days: days
                .into_iter()
                .map(|d| UsageDayDto {
                    day: Day(d.day),
                    peak_seats: d.peak_seats,
                    denials: d.denials,
                    overdraft_peak: d.overdraft_peak,
                    overdraft_seat_minutes: d.overdraft_seat_minutes,
                })
                .collect(),
        })))
    }
}
