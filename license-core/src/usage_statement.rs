//! Signed daily usage statements (ADR 0031): a license's figures for one ended UTC day —
//! peak, seat time, overdraft, denials — computed from the seat-event log and signed with
//! the tenant's key as a compact JWS of type `usage-statement+jwt`. The vendor and its
//! customer can each check a statement offline against the tenant's published keys (pinned to
//! the root) and settle an overage bill on it. It names the log entry it was computed up to,
//! so a statement can be recomputed from an exported, verified log range.
//!
//! ```
//! use chrono::NaiveDate;
//! use license_core::event_log::ChainHash;
//! use license_core::usage_statement::{StatementClaims, verify_statement};
//! use license_core::{Jwks, LicenseId, LocalSigner, Signer, SigningAlgorithm, TenantId};
//!
//! # futures::executor::block_on(async {
//! let key = LocalSigner::generate(SigningAlgorithm::EdDSA)?;
//! let (tenant, license) = (TenantId::new(), LicenseId::new());
//! let claims = StatementClaims {
//!     iss: "acme".into(),
//!     tid: tenant,
//!     lic: license,
//!     day: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
//!     seats_total: 10,
//!     peak_seats: 12,
//!     overdraft_peak: 2,
//!     seat_seconds: 86_400,
//!     overdraft_seat_seconds: 5_400,
//!     denials: 3,
//!     events_lost: 0,
//!     through_seq: 420,
//!     through_hash: ChainHash::GENESIS,
//!     iat: 1_795_000_000,
//! };
//! let jws = claims.sign(&key).await?;
//! let keys = Jwks { keys: vec![key.public_jwk()] };
//! assert_eq!(verify_statement(&keys, &jws, "acme", tenant)?.overdraft_peak, 2);
//! assert!(verify_statement(&keys, &jws, "acme", TenantId::new()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::event_log::ChainHash;
use crate::ids::{LicenseId, TenantId};
use crate::jws;
use crate::service::LicenseService;
use crate::signer::{Jwks, Signer};
use crate::token::TokenError;
use crate::usage_report::{self, Breakdown, Bucket, ReportQuery};

/// The JWS `typ` of a statement: never taken for a lease or a checkpoint.
pub const STATEMENT_TYPE: &str = "usage-statement+jwt";

/// Errors [`LicenseService::usage_statement`] may return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::InvalidInput,
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// What a statement says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementClaims {
    /// The server (the lease tokens' issuer).
    pub iss: String,
    /// The tenant.
    pub tid: TenantId,
    /// The license.
    pub lic: LicenseId,
    /// The UTC day.
    pub day: NaiveDate,
    /// The license's seats (without its overdraft) when the statement was signed.
    pub seats_total: u32,
    /// Most seats in use at once that day.
    pub peak_seats: u32,
    /// Seats in use beyond `seats_total` at the peak.
    pub overdraft_peak: u32,
    /// Seat time, in seconds.
    pub seat_seconds: u64,
    /// Seat time of seats granted into the overdraft, in seconds: the billable overage.
    pub overdraft_seat_seconds: u64,
    /// Acquisitions refused.
    pub denials: u32,
    /// Events the log's writer dropped up to the day's end (not zero: figures may be short).
    pub events_lost: u64,
    /// The last log entry bearing on the day: the log up to it gives these figures.
    pub through_seq: u64,
    /// Its hash.
    pub through_hash: ChainHash,
    /// When it was signed (seconds since the epoch).
    pub iat: i64,
}

impl StatementClaims {
    /// Signs them with `signer` (the tenant's key).
    pub async fn sign(&self, signer: &dyn Signer) -> Result<String> {
        jws::sign(signer, STATEMENT_TYPE, self).await
    }
}

/// Checks a statement against `keys` (the tenant's keys, certified by the root: see
/// [`TenantJwks::certified_keys`](crate::TenantJwks::certified_keys)): signature, type,
/// issuer and tenant. Returns what it says.
pub fn verify_statement(
    keys: &Jwks,
    jws: &str,
    issuer: &str,
    tenant: TenantId,
) -> std::result::Result<StatementClaims, TokenError> {
    jws::verify_tenant_document(
        keys,
        jws,
        STATEMENT_TYPE,
        issuer,
        tenant,
        |c: &StatementClaims| (c.iss.as_str(), c.tid),
    )
}

/// A signed statement, as served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageStatement {
    /// What it says.
    pub claims: StatementClaims,
    /// The compact JWS.
    pub jws: String,
}

impl LicenseService {
    /// The license's statement for `day`, signed now with the tenant's current key:
    /// `invalid_input` (field `day`) unless the day has ended.
    ///
    /// Errors: see [`ERRORS`].
    pub async fn usage_statement(
        &self,
        tenant: TenantId,
        license: LicenseId,
        day: NaiveDate,
    ) -> Result<UsageStatement> {
        let now = self.clock.now();
        if day >= now.date_naive() {
            return Err(Error::invalid(
                "day",
                "a statement is for a UTC day that has ended",
            ));
        }
        let license = self.store.get_license(tenant, license).await?;
        let query = ReportQuery::new(license.id, day, day, Bucket::Day, Breakdown::License)?;
        let report =
            usage_report::build(self.store.as_ref(), tenant, &license, &query, now).await?;
        let row = report.rows.first();
        let seats_total = license.seats.get();
        let peak_seats = row.map_or(0, |r| r.peak_seats);
        let claims = StatementClaims {
            iss: self.issuer.clone(),
            tid: tenant,
            lic: license.id,
            day,
            seats_total,
            peak_seats,
            overdraft_peak: peak_seats.saturating_sub(seats_total),
            seat_seconds: row.map_or(0, |r| r.seat_seconds),
            overdraft_seat_seconds: row.map_or(0, |r| r.overdraft_seat_seconds),
            denials: row.map_or(0, |r| r.denials),
            events_lost: report.events_lost,
            through_seq: report.through_seq,
            through_hash: report.through_hash,
            iat: now.timestamp(),
        };
        // The key that signs now (a lease expiring a minute from now would get the same).
        let expires = now + chrono::TimeDelta::seconds(60);
        let signer = self.tenant_keys().signer_for(tenant, expires).await?;
        let jws = claims.sign(signer.as_ref()).await?;
        Ok(UsageStatement { claims, jws })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{LocalSigner, SigningAlgorithm};

    #[test]
    fn a_statement_is_refused_for_another_key_issuer_tenant_or_type() {
        futures::executor::block_on(async {
            let key = LocalSigner::generate(SigningAlgorithm::ES256).unwrap();
            let other = LocalSigner::generate(SigningAlgorithm::ES256).unwrap();
            let tenant = TenantId::new();
            let claims = StatementClaims {
                iss: "acme".into(),
                tid: tenant,
                lic: LicenseId::new(),
                day: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
                seats_total: 2,
                peak_seats: 3,
                overdraft_peak: 1,
                seat_seconds: 60,
                overdraft_seat_seconds: 30,
                denials: 0,
                events_lost: 0,
                through_seq: 9,
                through_hash: ChainHash::GENESIS,
                iat: 0,
            };
            let jws = claims.sign(&key).await.unwrap();
            let keys = Jwks {
                keys: vec![key.public_jwk()],
            };
            assert_eq!(
                verify_statement(&keys, &jws, "acme", tenant),
                Ok(claims.clone())
            );
            let strangers = Jwks {
                keys: vec![other.public_jwk()],
            };
            assert!(verify_statement(&strangers, &jws, "acme", tenant).is_err());
            assert!(verify_statement(&keys, &jws, "other", tenant).is_err());
            assert!(verify_statement(&keys, &jws, "acme", TenantId::new()).is_err());
            // A checkpoint-typed JWS with the same claims is no statement.
            let checkpoint = jws::sign(&key, "event-checkpoint+jwt", &claims)
                .await
                .unwrap();
            assert!(matches!(
                verify_statement(&keys, &checkpoint, "acme", tenant),
                Err(TokenError::WrongType(_))
            ));
        });
    }
}
