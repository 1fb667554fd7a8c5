//! Admin: the tenant's seat-event log (ADR 0030), in ranges, for export and offline checks.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::event_log::LogEntry;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::error::AdminError;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// Admin routes for the seat-event log.
#[derive(Debug)]
pub struct EventsApi;

/// One entry of the log: a seat event, numbered and linked to the entry before it.
#[derive(Object, Debug)]
pub struct EventLogEntry {
    /// Its number in the tenant's log: 1, 2, 3, … without gaps.
    pub seq: u64,
    /// When the event happened.
    pub at: DateTime<Utc>,
    /// The replica that wrote it.
    pub replica: String,
    /// The event as JSON text (`docs/events.md`), exactly as hashed: keep it as text to verify.
    pub body: String,
    /// The previous entry's hash (64 hex digits; zeros for the first entry).
    pub prev_hash: String,
    /// SHA-256 of this entry (number, replica, body, previous hash; `docs/events.md`).
    pub hash: String,
}

impl From<LogEntry> for EventLogEntry {
    fn from(e: LogEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            replica: e.replica,
            body: e.body,
            prev_hash: e.prev_hash.to_string(),
            hash: e.hash.to_string(),
        }
    }
}

/// A range of the log.
#[derive(Object, Debug)]
pub struct EventLogPage {
    /// Oldest first.
    pub entries: Vec<EventLogEntry>,
    /// Pass as `after` for the next range: the last entry's number (or `after` again when
    /// the range is empty — nothing newer yet).
    pub next_after: u64,
}

/// A signed checkpoint: the tenant's key vouches for one entry's hash.
#[derive(Object, Debug)]
pub struct EventCheckpointDto {
    /// The entry's number.
    pub seq: u64,
    /// The entry's hash (64 hex digits).
    pub hash: String,
    /// When it was signed.
    pub signed_at: DateTime<Utc>,
    /// The compact JWS (`typ` `event-checkpoint+jwt`, claims `iss`, `tid`, `seq`, `hash`,
    /// `iat`), signed with the tenant's key: check it against
    /// `/api/v1/tenants/{tenant_id}/jwks.json` (`license audit verify --checkpoint`).
    pub checkpoint: String,
}

/// A checkpoint.
#[derive(ApiResponse, Debug)]
pub enum CheckpointOk {
    /// Signed now.
    #[oai(status = 200)]
    Ok(Json<EventCheckpointDto>),
}

/// The seat-event log.
#[derive(ApiResponse, Debug)]
pub enum EventsOk {
    /// Entries numbered after `after`.
    #[oai(status = 200)]
    Ok(Json<EventLogPage>),
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Audit")]
impl EventsApi {
    /// List seat events
    ///
    /// The tenant's seat-event log: grants, refusals with their reason, releases, expiries,
    /// evictions, borrows, admin changes (renewals are not logged one by one), numbered
    /// without gaps and hash-chained. `license events export` writes ranges to a file and
    /// `license events verify` checks one offline.
    #[oai(path = "/events", method = "get", operation_id = "list_events")]
    async fn list(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        /// Entries numbered after this one (default 0: from the start).
        after: Query<Option<u64>>,
        /// How many entries at most (1–1000, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> Result<EventsOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let after = after.0.unwrap_or(0);
        let entries = state
            .admin
            .event_log(tenant, after, limit.0.unwrap_or(100))
            .await?;
        let next_after = entries.last().map_or(after, |e| e.seq);
        Ok(EventsOk::Ok(Json(EventLogPage {
            entries: entries.into_iter().map(EventLogEntry::from).collect(),
            next_after,
        })))
    }

    /// Sign a checkpoint of the seat-event log
    ///
    /// Signs, with the tenant's own key, that entry `seq` of its seat-event log has the hash
    /// it has now. Keep checkpoints: with one, an exported range verifies offline against the
    /// tenant's published keys (the chain ties every earlier entry to it), and a log altered
    /// after it was signed no longer matches.
    #[oai(
        path = "/events/checkpoint",
        method = "get",
        operation_id = "get_event_checkpoint"
    )]
    async fn checkpoint(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        /// The entry to vouch for (the last one of a range you exported).
        #[oai(validator(minimum(value = "1")))]
        seq: Query<u64>,
    ) -> Result<CheckpointOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let signed = state.service.event_checkpoint(tenant, seq.0).await?;
        let signed_at = DateTime::from_timestamp(signed.claims.iat, 0).unwrap_or_default();
        Ok(CheckpointOk::Ok(Json(EventCheckpointDto {
            seq: signed.claims.seq,
            hash: signed.claims.hash.to_string(),
            signed_at,
            checkpoint: signed.jws,
        })))
    }
}
