//! [`TenantJwks`]: what `GET /api/v1/tenants/{tenant_id}/jwks.json` serves — a JWK set of one
//! tenant's keys, plus the root's certificate for each, so a client pinned to the root can
//! trust them without trusting the connection.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::certificate::check_certificate;
use crate::ids::TenantId;
use crate::signer::{Jwks, PublicJwk};
use crate::token::{TokenError, TokenVerifier};

/// One tenant's published keys: the current key, its successor once made, and retired keys
/// whose tokens may still be live (never revoked ones, never another tenant's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantJwks {
    /// The tenant these keys sign for.
    pub tenant_id: TenantId,
    /// The keys, as a plain JWK set (RFC 7517 lets a set carry more members, which JOSE
    /// libraries ignore).
    pub keys: Vec<PublicJwk>,
    /// The root's certificate of each key (a `tenant-key+jwt` compact JWS), in `keys` order.
    pub certificates: Vec<String>,
}

impl TenantJwks {
    /// The keys as a JWK set, trusted as served.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.keys.clone(),
        }
    }

    /// The keys whose certificate checks out against `root` for `tenant` at `now`; keys
    /// without a good certificate are left out. An error when the set is another tenant's or
    /// no key is certified.
    pub fn certified_keys(
        &self,
        root: &Jwks,
        issuer: &str,
        tenant: TenantId,
        now: DateTime<Utc>,
    ) -> Result<Jwks, TokenError> {
        if self.tenant_id != tenant {
            return Err(TokenError::WrongAudience(self.tenant_id.to_string()));
        }
        let mut keys = Vec::with_capacity(self.certificates.len());
        let mut first_refusal = None;
        for certificate in &self.certificates {
            match check_certificate(
                root,
                certificate,
                issuer,
                tenant,
                now,
                TokenVerifier::DEFAULT_LEEWAY_SECONDS,
            ) {
                Ok(key) => keys.push(key),
                Err(e) => {
                    first_refusal.get_or_insert(e);
                }
            }
        }
        match (keys.is_empty(), first_refusal) {
            (true, Some(refusal)) => Err(refusal),
            (true, None) => Err(TokenError::BadCertificate(
                "the tenant publishes no certified key".into(),
            )),
            (false, _) => Ok(Jwks { keys }),
        }
    }
}
