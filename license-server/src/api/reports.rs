//! Admin: usage reports from the seat-event log, as JSON, CSV or NDJSON, and signed daily
//! usage statements (ADR 0031).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use license_core::LicenseId;
use license_core::usage_report::{Breakdown, Bucket, ReportQuery, ReportRow, UsageReport};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, ResponseContent};
use uuid::Uuid;

use super::ApiTags;
use super::day::Day;
use super::error::AdminError;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// Admin routes for reports and statements.
#[derive(Debug)]
pub struct ReportsApi;

/// How long a row's period is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ReportBucket {
    /// UTC days.
    Day,
    /// UTC hours (reports of at most 31 days).
    Hour,
}

/// What rows are per.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ReportBy {
    /// The whole license.
    License,
    /// The person a seat is for (the client's `user_email`, or an ID token's e-mail).
    User,
    /// The machine (`hardware_id`).
    Host,
    /// The groups of the license's policy, as it is now.
    Group,
}

/// How the report is written.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ReportFormat {
    /// One JSON document.
    Json,
    /// CSV with a header line (`text/csv`).
    Csv,
    /// One JSON row per line (`application/x-ndjson`).
    Ndjson,
}

/// One bucket's figures for the license, or one user, machine or group.
#[derive(Object, Debug)]
pub struct ReportRowDto {
    /// The bucket's start (UTC).
    pub start: DateTime<Utc>,
    /// The user, machine or group the row is for; absent for the whole license, for seats
    /// whose client named no user (`by=user`), and for seats in no group (`by=group`).
    #[oai(skip_serializing_if_is_none)]
    pub key: Option<String>,
    /// Most seats in use at once.
    pub peak_seats: u32,
    /// Seat time, in seconds.
    pub seat_seconds: u64,
    /// Seat time of seats granted into the overdraft (billable), in seconds.
    pub overdraft_seat_seconds: u64,
    /// Acquisitions refused.
    pub denials: u32,
    /// Waits in the queue begun.
    pub queue_waits: u32,
    /// Of them, waits that ended with a seat.
    pub queue_waits_seated: u32,
    /// Time those waits lasted (up to now for a wait still going), in seconds.
    pub queue_wait_seconds: u64,
}

impl From<&ReportRow> for ReportRowDto {
    fn from(r: &ReportRow) -> Self {
        Self {
            start: r.start,
            key: r.key.clone(),
            peak_seats: r.peak_seats,
            seat_seconds: r.seat_seconds,
            overdraft_seat_seconds: r.overdraft_seat_seconds,
            denials: r.denials,
            queue_waits: r.queue_waits,
            queue_waits_seated: r.queue_waits_seated,
            queue_wait_seconds: r.queue_wait_seconds,
        }
    }
}

/// A license's usage report.
#[derive(Object, Debug)]
pub struct UsageReportDto {
    /// The license.
    pub license_id: Uuid,
    /// The period's start (midnight UTC of `from`).
    pub from: DateTime<Utc>,
    /// The period's end, exclusive (midnight UTC after `to`).
    pub to: DateTime<Utc>,
    /// Rows per day or hour.
    pub bucket: ReportBucket,
    /// Rows per license, user, machine or group.
    pub by: ReportBy,
    /// Buckets with activity, oldest first, then by key.
    pub rows: Vec<ReportRowDto>,
    /// Events the log's writer had to drop before the period's end: when not zero, figures
    /// may be short.
    pub events_lost: u64,
    /// The last seat-event log entry the report was computed from.
    pub through_seq: u64,
}

/// The report in the format asked.
#[derive(ResponseContent, Debug)]
pub enum ReportContent {
    /// `format=json`.
    Json(Json<UsageReportDto>),
    /// `format=csv`: a header line, then one line per row.
    #[oai(content_type = "text/csv; charset=utf-8")]
    Csv(PlainText<String>),
    /// `format=ndjson`: one JSON row per line.
    #[oai(content_type = "application/x-ndjson")]
    Ndjson(PlainText<String>),
}

/// A report.
#[derive(ApiResponse, Debug)]
pub enum ReportOk {
    /// The report.
    #[oai(status = 200)]
    Ok(ReportContent),
}

/// A signed usage statement.
#[derive(Object, Debug)]
pub struct UsageStatementDto {
    /// The license.
    pub license_id: Uuid,
    /// The UTC day.
    pub day: Day,
    /// The license's seats (without its overdraft).
    pub seats_total: u32,
    /// Most seats in use at once that day.
    pub peak_seats: u32,
    /// Seats in use beyond `seats_total` at the peak.
    pub overdraft_peak: u32,
    /// Seat time, in seconds.
    pub seat_seconds: u64,
    /// Seat time of seats granted into the overdraft: the billable overage, in seconds.
    pub overdraft_seat_seconds: u64,
    /// Acquisitions refused.
    pub denials: u32,
    /// Events the log's writer dropped up to the day's end.
    pub events_lost: u64,
    /// The last seat-event log entry the figures were computed from.
    pub through_seq: u64,
    /// Its hash (64 hex digits).
    pub through_hash: String,
    /// When it was signed.
    pub signed_at: DateTime<Utc>,
    /// The compact JWS (`typ` `usage-statement+jwt`; the claims are the figures above as
    /// `iss`, `tid`, `lic`, `day`, …), signed with the tenant's key: check it offline against
    /// `/api/v1/tenants/{tenant_id}/jwks.json` (`license usage verify-statement`).
    pub statement: String,
}

/// A statement.
#[derive(ApiResponse, Debug)]
pub enum StatementOk {
    /// Signed now.
    #[oai(status = 200)]
    Ok(Json<UsageStatementDto>),
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Usage")]
impl ReportsApi {
    /// Get a license's usage report
    ///
    /// Per UTC day or hour between `from` and `to` (inclusive; at most 366 days by day, 31 by
    /// hour; default the last 30 days by day): peak concurrency (exact), seat time, overdraft
    /// seat time, refused acquisitions and queue waits — for the whole license or per user,
    /// machine or policy group. Computed from the tenant's seat-event log; buckets without
    /// activity are left out. `format=csv` for a spreadsheet, `ndjson` for a pipeline.
    #[oai(
        path = "/licenses/:license_id/report",
        method = "get",
        operation_id = "get_license_report"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn report(
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
        /// Rows per `day` (default) or `hour`.
        bucket: Query<Option<ReportBucket>>,
        /// Rows per `license` (default), `user`, `host` or `group`.
        by: Query<Option<ReportBy>>,
        /// `json` (default), `csv` or `ndjson`.
        format: Query<Option<ReportFormat>>,
    ) -> Result<ReportOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let to = to.0.map_or_else(|| state.clock.now().date_naive(), |d| d.0);
        let from = from.0.map_or(to - TimeDelta::days(29), |d| d.0);
        let bucket = bucket.0.unwrap_or(ReportBucket::Day);
        let by = by.0.unwrap_or(ReportBy::License);
        let query = ReportQuery::new(
            LicenseId::from_uuid(license_id.0),
            from,
            to,
            match bucket {
                ReportBucket::Day => Bucket::Day,
                ReportBucket::Hour => Bucket::Hour,
            },
            match by {
                ReportBy::License => Breakdown::License,
                ReportBy::User => Breakdown::User,
                ReportBy::Host => Breakdown::Host,
                ReportBy::Group => Breakdown::Group,
            },
        )?;
        let report = state.admin.usage_report(tenant, &query).await?;
        let rows = report.rows.iter().map(ReportRowDto::from);
        Ok(ReportOk::Ok(match format.0.unwrap_or(ReportFormat::Json) {
            ReportFormat::Json => ReportContent::Json(Json(UsageReportDto {
                license_id: license_id.0,
                from: report.query.start(),
                to: report.to,
                bucket,
                by,
                rows: rows.collect(),
                events_lost: report.events_lost,
                through_seq: report.through_seq,
            })),
            ReportFormat::Csv => ReportContent::Csv(PlainText(csv(&report, by)?)),
            ReportFormat::Ndjson => {
                let mut text = String::new();
                // The JSON format's own rows, one per line.
                for row in rows {
                    text.push_str(&row.to_json_string());
                    text.push('\n');
                }
                ReportContent::Ndjson(PlainText(text))
            }
        }))
    }

    /// Get a signed daily usage statement
    ///
    /// A license's figures for one ended UTC day — peak, seat time, overdraft, refused
    /// acquisitions — signed with the tenant's own key. The vendor and its customer can each
    /// verify it offline (`license usage verify-statement`) and settle an overage bill on it.
    #[oai(
        path = "/licenses/:license_id/statements/:day",
        method = "get",
        operation_id = "get_usage_statement"
    )]
    async fn statement(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
        /// The UTC day, `YYYY-MM-DD` (before today).
        day: Path<String>,
    ) -> Result<StatementOk, AdminError> {
        let tenant = auth.0.tenant()?;
        // Parsed here, not by the framework: its path errors cannot name the parameter.
        let day = NaiveDate::parse_from_str(&day.0, "%Y-%m-%d")
            .map_err(|_| license_core::Error::invalid("day", "expected a day as YYYY-MM-DD"))?;
        let signed = state
            .service
            .usage_statement(tenant, LicenseId::from_uuid(license_id.0), day)
            .await?;
        let c = signed.claims;
        Ok(StatementOk::Ok(Json(UsageStatementDto {
            license_id: c.lic.as_uuid(),
            day: Day(c.day),
            seats_total: c.seats_total,
            peak_seats: c.peak_seats,
            overdraft_peak: c.overdraft_peak,
            seat_seconds: c.seat_seconds,
            overdraft_seat_seconds: c.overdraft_seat_seconds,
            denials: c.denials,
            events_lost: c.events_lost,
            through_seq: c.through_seq,
            through_hash: c.through_hash.to_string(),
            signed_at: DateTime::from_timestamp(c.iat, 0).unwrap_or_default(),
            statement: signed.jws,
        })))
    }
}

fn internal(e: impl std::fmt::Display) -> license_core::Error {
    license_core::Error::Internal(format!("writing the report: {e}"))
}

/// The report as CSV: `start`, the key column (`user`, `host` or `group`; none for the
/// whole license), then the figures. Seat time also in hours, for spreadsheets.
fn csv(report: &UsageReport, by: ReportBy) -> Result<String, license_core::Error> {
    let key = match by {
        ReportBy::License => None,
        ReportBy::User => Some("user"),
        ReportBy::Host => Some("host"),
        ReportBy::Group => Some("group"),
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["start"];
    header.extend(key);
    header.extend([
        "peak_seats",
        "seat_hours",
        "seat_seconds",
        "overdraft_seat_seconds",
        "denials",
        "queue_waits",
        "queue_waits_seated",
        "queue_wait_seconds",
    ]);
    out.write_record(&header).map_err(internal)?;
    for r in &report.rows {
        let mut record = vec![r.start.format("%Y-%m-%dT%H:%M:%SZ").to_string()];
        if key.is_some() {
            record.push(r.key.clone().unwrap_or_default());
        }
        #[allow(clippy::cast_precision_loss)]
        let hours = r.seat_seconds as f64 / 3600.0;
        record.extend([
            r.peak_seats.to_string(),
            format!("{hours:.3}"),
            r.seat_seconds.to_string(),
            r.overdraft_seat_seconds.to_string(),
            r.denials.to_string(),
            r.queue_waits.to_string(),
            r.queue_waits_seated.to_string(),
            r.queue_wait_seconds.to_string(),
        ]);
        out.write_record(&record).map_err(internal)?;
    }
    let bytes = out.into_inner().map_err(internal)?;
    String::from_utf8(bytes).map_err(internal)
}
