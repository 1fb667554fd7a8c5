//! Admin: a tenant's licenses — create, list, read, change terms, suspend, reinstate, revoke.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::{
    Entitlement, LeasePolicy, License, LicenseChange, LicenseId, LicenseKey, LicenseStatus,
    NewLicense, Page, SeatCount, SeatRules, SeatRulesChange,
};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::error::AdminError;
use super::policies::{LeasingStrategyDto, PolicyDto};
use super::text::Text;
use super::whole::Whole;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// Admin routes for licenses.
#[derive(Debug)]
pub struct LicensesApi;

/// Whether a license may hand out seats.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum LicenseStatusDto {
    /// Seats may be acquired.
    Active,
    /// Temporarily blocked; sessions end at their next heartbeat.
    Suspended,
    /// Blocked for good.
    Revoked,
}

impl From<LicenseStatus> for LicenseStatusDto {
    fn from(status: LicenseStatus) -> Self {
        match status {
            LicenseStatus::Active => LicenseStatusDto::Active,
            LicenseStatus::Suspended => LicenseStatusDto::Suspended,
            LicenseStatus::Revoked => LicenseStatusDto::Revoked,
        }
    }
}

/// A floating license.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct LicenseDto {
    /// Its id.
    pub id: Uuid,
    /// The key clients present on acquire.
    pub license_key: String,
    /// Product name.
    pub product: String,
    /// Seats sold.
    pub seats_total: u32,
    /// Extra seats tolerated above `seats_total`.
    pub overdraft: u32,
    // Active, suspended or revoked (plain comment: keeps a bare $ref for generators).
    pub status: LicenseStatusDto,
    /// No seats after this instant; absent for perpetual licenses.
    pub expires_at: Option<DateTime<Utc>>,
    /// Seconds a seat is held without a heartbeat.
    pub ttl_seconds: u32,
    /// Seconds clients wait between heartbeats.
    pub heartbeat_interval_seconds: u32,
    /// Features granted, copied into every lease token.
    pub entitlements: Vec<String>,
    /// Whether acquire gives each new session a `session_secret` that its heartbeats and
    /// releases must present (for apps that share one client API key).
    pub require_session_secret: bool,
    /// Longest borrow for offline work, in seconds; 0: the license lends no seats.
    pub max_borrow_seconds: u32,
    /// Most seats borrowed at once; absent: any seat may be borrowed.
    pub max_borrowed_seats: Option<u32>,
    /// After a release the seat stays held for its machine this long, in seconds (0: freed
    /// at once).
    pub linger_seconds: u32,
    /// A force-release of a session younger than this (seconds) needs `force`.
    pub min_hold_seconds: u32,
    /// Most overdraft seat-minutes per UTC day; once reached, no grant goes into the
    /// overdraft that day. Absent: no cap.
    pub overdraft_minutes_per_day: Option<u32>,
    // Who a seat is for: per machine, per user or per process (plain comment: keeps a bare
    // $ref for generators).
    pub leasing_strategy: LeasingStrategyDto,
    /// Per-process leasing: most processes of one machine holding seats at once; absent: no
    /// cap.
    pub max_processes_per_host: Option<u32>,
    /// Longest an acquire may wait in the license's queue for a seat, in seconds; 0: no
    /// queue (a refused acquire is refused at once).
    pub max_wait_seconds: u32,
    /// Most clients waiting in the queue at once.
    pub max_queue_length: u32,
    // Groups and seat rules (plain comment: keeps a bare $ref for generators).
    pub policy: PolicyDto,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<License> for LicenseDto {
    fn from(l: License) -> Self {
        Self {
            id: l.id.as_uuid(),
            license_key: l.key.as_str().to_owned(),
            product: l.product,
            seats_total: l.seats.get(),
            overdraft: l.overdraft,
            status: l.status.into(),
            expires_at: l.expires_at,
            ttl_seconds: l.lease.ttl_seconds(),
            heartbeat_interval_seconds: l.lease.heartbeat_interval_seconds(),
            entitlements: l
                .entitlements
                .iter()
                .map(|e| e.as_str().to_owned())
                .collect(),
            require_session_secret: l.require_session_secret,
            max_borrow_seconds: l.rules.max_borrow_seconds,
            max_borrowed_seats: l.rules.max_borrowed_seats,
            linger_seconds: l.rules.linger_seconds,
            min_hold_seconds: l.rules.min_hold_seconds,
            overdraft_minutes_per_day: l.rules.overdraft_minutes_per_day,
            leasing_strategy: l.rules.leasing.into(),
            max_processes_per_host: l.rules.max_processes_per_host,
            max_wait_seconds: l.rules.max_wait_seconds,
            max_queue_length: l.rules.queue_length(),
            policy: l.policy.into(),
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

/// A new license.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CreateLicenseRequest {
    /// Product name (1–128 characters; no control, bidirectional or invisible formatting
    /// characters).
    #[oai(validator(min_length = 1, max_length = 128))]
    pub product: Text,
    /// Seats sold (1–1,000,000).
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
    pub seats_total: u32,
    /// Extra seats tolerated above `seats_total` (at most 10 × seats). Default 0.
    #[oai(default)]
    pub overdraft: u32,
    /// The key clients will present (8–64 of `A–Z a–z 0–9 - _`); generated when absent
    /// (recommended: 100 random bits). A chosen key must be hard to guess — at least 64 bits
    /// by a conservative estimate, about 20 random letters and digits — else 400 naming
    /// `license_key`, unless `allow_weak_key` is true.
    #[oai(validator(min_length = 8, max_length = 64))]
    pub license_key: Option<Text>,
    /// Accept a chosen `license_key` that is easy to guess (`ACME-PRO-2026-0001`), e.g. keys
    /// already in customers' hands; the audit event records it. Default false.
    #[oai(default)]
    pub allow_weak_key: bool,
    /// No seats after this instant; perpetual when absent.
    pub expires_at: Option<DateTime<Utc>>,
    /// Seconds a seat is held without a heartbeat (1–86400). Default 360.
    #[oai(validator(minimum(value = "1"), maximum(value = "86400")))]
    pub ttl_seconds: Option<u32>,
    /// Seconds clients wait between heartbeats; shorter than the TTL. Default 120.
    #[oai(validator(minimum(value = "1"), maximum(value = "86399")))]
    pub heartbeat_interval_seconds: Option<u32>,
    /// Features granted (at most 64 names of 1–64 `A–Z a–z 0–9 . _ : -`).
    #[oai(default, validator(max_items = 64))]
    pub entitlements: Vec<Text>,
    /// Give each new session a `session_secret` that its heartbeats and releases must present:
    /// for apps that share one client API key, so a session id alone (it is in every lease
    /// token) renews or ends nothing. Default false.
    #[oai(default)]
    pub require_session_secret: bool,
    /// Longest borrow for offline work, in seconds (0–1,209,600, 14 days). Default 0: the
    /// license lends no seats.
    #[oai(validator(minimum(value = "0"), maximum(value = "1209600")))]
    pub max_borrow_seconds: Option<Whole>,
    /// Most seats borrowed at once (at most `seats_total` + `overdraft`). Default: no cap.
    #[oai(validator(minimum(value = "0"), maximum(value = "11000000")))]
    pub max_borrowed_seats: Option<Whole>,
    /// After a release the seat stays held for its machine this long, in seconds (0–86,400),
    /// so a re-run gets it back and no one else takes it in between. Default 0.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub linger_seconds: Option<Whole>,
    /// A force-release of a session younger than this (seconds, 0–86,400) needs `force`.
    /// Default 0.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub min_hold_seconds: Option<Whole>,
    /// Most overdraft seat-minutes per UTC day (at most `overdraft` × 1440); once reached, no
    /// grant goes into the overdraft that day. Default: no cap.
    #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))]
    pub overdraft_minutes_per_day: Option<Whole>,
    // Who a seat is for: `per_machine` (default; one seat per `hardware_id`), `per_user` (one
    // per person, from any machine: acquire needs `user_email` or a signed-in user) or
    // `per_process` (one per process: acquire needs `process_id`). Plain comment: keeps a
    // bare $ref for generators.
    pub leasing_strategy: Option<LeasingStrategyDto>,
    /// Per-process leasing only: most processes of one machine holding seats at once
    /// (1–1,000). Default: no cap.
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    pub max_processes_per_host: Option<Whole>,
    /// Longest an acquire may wait in the license's queue for a seat, in seconds (0–86,400).
    /// Default 0: no queue.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub max_wait_seconds: Option<Whole>,
    /// Most clients waiting in the queue at once (1–10,000). Default 1,000.
    #[oai(validator(minimum(value = "1"), maximum(value = "10000")))]
    pub max_queue_length: Option<Whole>,
}

impl CreateLicenseRequest {
    /// The seat rules asked for (400 naming the field for one that is not a whole number).
    fn rules(&self) -> license_core::Result<SeatRules> {
        let get = |n: Option<Whole>, field| n.map(|n| n.get(field)).transpose();
        Ok(SeatRules {
            max_borrow_seconds: get(self.max_borrow_seconds, "max_borrow_seconds")?.unwrap_or(0),
            max_borrowed_seats: get(self.max_borrowed_seats, "max_borrowed_seats")?,
            linger_seconds: get(self.linger_seconds, "linger_seconds")?.unwrap_or(0),
            min_hold_seconds: get(self.min_hold_seconds, "min_hold_seconds")?.unwrap_or(0),
            overdraft_minutes_per_day: get(
                self.overdraft_minutes_per_day,
                "overdraft_minutes_per_day",
            )?,
            leasing: self.leasing_strategy.map(Into::into).unwrap_or_default(),
            max_processes_per_host: get(self.max_processes_per_host, "max_processes_per_host")?,
            max_wait_seconds: get(self.max_wait_seconds, "max_wait_seconds")?.unwrap_or(0),
            max_queue_length: get(self.max_queue_length, "max_queue_length")?,
        })
    }
}

/// A change to a license's terms. Absent fields stay as they are.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct UpdateLicenseRequest {
    /// New seat count. Lowering it ends no session: new grants wait until enough are released.
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
    pub seats_total: Option<u32>,
    /// New overdraft.
    pub overdraft: Option<u32>,
    /// New expiry; `null` makes the license perpetual.
    #[oai(nullable)]
    pub expires_at: MaybeUndefined<DateTime<Utc>>,
    /// New TTL (applies from each session's next heartbeat).
    #[oai(validator(minimum(value = "1"), maximum(value = "86400")))]
    pub ttl_seconds: Option<u32>,
    /// New heartbeat interval.
    #[oai(validator(minimum(value = "1"), maximum(value = "86399")))]
    pub heartbeat_interval_seconds: Option<u32>,
    /// New entitlements (replace the old ones).
    #[oai(validator(max_items = 64))]
    pub entitlements: Option<Vec<Text>>,
    /// Whether sessions acquired from now on get a `session_secret` (a running session keeps
    /// what it was given at acquire).
    pub require_session_secret: Option<bool>,
    /// New longest borrow, in seconds (0–1,209,600; 0 stops lending; seats already borrowed
    /// keep their end).
    #[oai(validator(minimum(value = "0"), maximum(value = "1209600")))]
    pub max_borrow_seconds: Option<Whole>,
    /// New cap on seats borrowed at once; `null` removes the cap.
    #[oai(nullable, validator(minimum(value = "0"), maximum(value = "11000000")))]
    pub max_borrowed_seats: MaybeUndefined<Whole>,
    /// New linger after release, in seconds (0–86,400).
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub linger_seconds: Option<Whole>,
    /// New minimum hold before a force-release needs `force`, in seconds (0–86,400).
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub min_hold_seconds: Option<Whole>,
    /// New daily cap on overdraft seat-minutes; `null` removes the cap.
    #[oai(
        nullable,
        validator(minimum(value = "0"), maximum(value = "4294967295"))
    )]
    pub overdraft_minutes_per_day: MaybeUndefined<Whole>,
    // New leasing strategy (applies to new grants; a seat already held keeps its key). Plain
    // comment: keeps a bare $ref for generators.
    pub leasing_strategy: Option<LeasingStrategyDto>,
    /// New cap on processes per machine (per-process leasing, 1–1,000); `null` removes the
    /// cap.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "1000")))]
    pub max_processes_per_host: MaybeUndefined<Whole>,
    /// New longest wait in the queue, in seconds (0–86,400; 0 turns the queue off: a waiting
    /// client's next poll is answered as a plain acquire). A client already waiting keeps
    /// the wait it joined with.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub max_wait_seconds: Option<Whole>,
    /// New most clients waiting (1–10,000); `null`: back to the default, 1,000.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "10000")))]
    pub max_queue_length: MaybeUndefined<Whole>,
}

impl UpdateLicenseRequest {
    /// The change to the seat rules (400 naming the field for one that is not a whole
    /// number).
    fn rules(&self) -> license_core::Result<SeatRulesChange> {
        let get = |n: Option<Whole>, field| n.map(|n| n.get(field)).transpose();
        let clearable = |n: MaybeUndefined<Whole>, field| -> license_core::Result<_> {
            Ok(match n {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(n) => Some(Some(n.get(field)?)),
            })
        };
        Ok(SeatRulesChange {
            max_borrow_seconds: get(self.max_borrow_seconds, "max_borrow_seconds")?,
            max_borrowed_seats: clearable(self.max_borrowed_seats, "max_borrowed_seats")?,
            linger_seconds: get(self.linger_seconds, "linger_seconds")?,
            min_hold_seconds: get(self.min_hold_seconds, "min_hold_seconds")?,
            overdraft_minutes_per_day: clearable(
                self.overdraft_minutes_per_day,
                "overdraft_minutes_per_day",
            )?,
            leasing: self.leasing_strategy.map(Into::into),
            max_processes_per_host: clearable(
                self.max_processes_per_host,
                "max_processes_per_host",
            )?,
            max_wait_seconds: get(self.max_wait_seconds, "max_wait_seconds")?,
            max_queue_length: clearable(self.max_queue_length, "max_queue_length")?,
        })
    }
}

/// A page of licenses, oldest first.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct LicensePage {
    /// The licenses.
    pub items: Vec<LicenseDto>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<Uuid>,
}

/// A created license.
#[derive(ApiResponse, Debug)]
pub enum LicenseCreated {
    /// The license, with its key.
    #[oai(status = 201)]
    Created(Json<LicenseDto>),
}

/// A license.
#[derive(ApiResponse, Debug)]
pub enum LicenseOk {
    /// The license as it is now.
    #[oai(status = 200)]
    Ok(Json<LicenseDto>),
}

/// A page of licenses.
#[derive(ApiResponse, Debug)]
pub enum LicensePageOk {
    /// The page.
    #[oai(status = 200)]
    Ok(Json<LicensePage>),
}

fn entitlements(names: &[Text]) -> license_core::Result<Vec<Entitlement>> {
    names.iter().map(|n| Entitlement::parse(n)).collect()
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Licenses")]
impl LicensesApi {
    /// Create a license
    #[oai(path = "/licenses", method = "post", operation_id = "create_license")]
    async fn create(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        body: Json<CreateLicenseRequest>,
    ) -> Result<LicenseCreated, AdminError> {
        let tenant = auth.0.tenant()?;
        let body = body.0;
        let defaults = LeasePolicy::default();
        let mut new = NewLicense::new(&body.product, SeatCount::new(body.seats_total)?);
        new.overdraft = body.overdraft;
        new.key = body
            .license_key
            .as_deref()
            .map(LicenseKey::parse)
            .transpose()?;
        new.allow_weak_key = body.allow_weak_key;
        new.expires_at = body.expires_at;
        new.lease = LeasePolicy::new(
            body.ttl_seconds.unwrap_or(defaults.ttl_seconds()),
            body.heartbeat_interval_seconds
                .unwrap_or(defaults.heartbeat_interval_seconds()),
        )?;
        new.entitlements = entitlements(&body.entitlements)?;
        new.require_session_secret = body.require_session_secret;
        new.rules = body.rules()?;
        let license = state
            .admin
            .create_license(tenant, new, &auth.0.actor())
            .await?;
        Ok(LicenseCreated::Created(Json(license.into())))
    }

    /// List licenses
    ///
    /// Keyset pagination, oldest first: pass the previous page's `next_after` as `after`.
    #[oai(path = "/licenses", method = "get", operation_id = "list_licenses")]
    async fn list(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        /// Start after this license id.
        after: Query<Option<Uuid>>,
        /// Page size (1–500, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
    ) -> Result<LicensePageOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let page = Page::new(after.0.map(LicenseId::from_uuid), limit.0.unwrap_or(100));
        let licenses = state.admin.list_licenses(tenant, page).await?;
        let next_after = (licenses.len() == page.limit as usize)
            .then(|| licenses.last().map(|l| l.id.as_uuid()))
            .flatten();
        Ok(LicensePageOk::Ok(Json(LicensePage {
            items: licenses.into_iter().map(LicenseDto::from).collect(),
            next_after,
        })))
    }

    /// Get a license
    #[oai(
        path = "/licenses/:license_id",
        method = "get",
        operation_id = "get_license"
    )]
    async fn get(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
    ) -> Result<LicenseOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let license = state
            .admin
            .get_license(tenant, LicenseId::from_uuid(license_id.0))
            .await?;
        Ok(LicenseOk::Ok(Json(license.into())))
    }

    /// Change a license's terms
    ///
    /// Seats, overdraft, expiry, TTL, heartbeat interval, entitlements, session secrets, and
    /// the seat rules (borrowing, linger, minimum hold, daily overdraft cap, leasing strategy,
    /// processes per host). The seat policy has its own route (`…/policy`). Sessions pick up
    /// the new terms at their next heartbeat (a session keeps the secret, or none, it was
    /// given at acquire; a borrowed seat keeps its end).
    #[oai(
        path = "/licenses/:license_id",
        method = "patch",
        operation_id = "update_license"
    )]
    async fn update(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
        body: Json<UpdateLicenseRequest>,
    ) -> Result<LicenseOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let id = LicenseId::from_uuid(license_id.0);
        let body = body.0;
        let rules = body.rules()?;
        let lease = match (body.ttl_seconds, body.heartbeat_interval_seconds) {
            (None, None) => None,
            (ttl, interval) => {
                // One of the two may be left out: it keeps its current value.
                let current = state.admin.get_license(tenant, id).await?.lease;
                Some(LeasePolicy::new(
                    ttl.unwrap_or(current.ttl_seconds()),
                    interval.unwrap_or(current.heartbeat_interval_seconds()),
                )?)
            }
        };
        let change = LicenseChange {
            seats: body.seats_total.map(SeatCount::new).transpose()?,
            overdraft: body.overdraft,
            expires_at: match body.expires_at {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(at) => Some(Some(at)),
            },
            lease,
            entitlements: body.entitlements.as_deref().map(entitlements).transpose()?,
            require_session_secret: body.require_session_secret,
            rules,
            policy: None,
        };
        let license = state
            .admin
            .update_license(tenant, id, change, &auth.0.actor())
            .await?;
        Ok(LicenseOk::Ok(Json(license.into())))
    }

    /// Suspend a license
    ///
    /// No new seats; live sessions end at their next heartbeat (403 `license_suspended`).
    #[oai(
        path = "/licenses/:license_id/suspend",
        method = "post",
        operation_id = "suspend_license"
    )]
    async fn suspend(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
    ) -> Result<LicenseOk, AdminError> {
        set_status(&auth, &state, license_id.0, LicenseStatus::Suspended).await
    }

    /// Reinstate a suspended license
    ///
    /// A revoked license cannot be reinstated (409 `conflict`).
    #[oai(
        path = "/licenses/:license_id/reinstate",
        method = "post",
        operation_id = "reinstate_license"
    )]
    async fn reinstate(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
    ) -> Result<LicenseOk, AdminError> {
        set_status(&auth, &state, license_id.0, LicenseStatus::Active).await
    }

    /// Revoke a license for good
    #[oai(
        path = "/licenses/:license_id/revoke",
        method = "post",
        operation_id = "revoke_license"
    )]
    async fn revoke(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
    ) -> Result<LicenseOk, AdminError> {
        set_status(&auth, &state, license_id.0, LicenseStatus::Revoked).await
    }
}

async fn set_status(
    auth: &TenantAdminAuth,
    state: &AppState,
    license_id: Uuid,
    status: LicenseStatus,
) -> Result<LicenseOk, AdminError> {
    let tenant = auth.0.tenant()?;
    let license = state
        .admin
        .set_status(
            tenant,
            LicenseId::from_uuid(license_id),
            status,
            &auth.0.actor(),
        )
        .await?;
    Ok(LicenseOk::Ok(Json(license.into())))
}
