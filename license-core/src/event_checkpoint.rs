//! Signed checkpoints of the seat-event log (ADR 0030): the server signs "entry `seq` of
//! tenant `tid`'s log has hash `hash`" with the tenant's own key, as a compact JWS of type
//! `event-checkpoint+jwt`. Whoever holds a checkpoint can check a downloaded range offline
//! against the tenant's published keys (pinned to the root): the chain links every earlier
//! entry to the checkpointed one, so the whole range up to it is the server's.
//!
//! ```
//! use license_core::event_checkpoint::{CheckpointClaims, verify_checkpoint};
//! use license_core::event_log::ChainHash;
//! use license_core::{Jwks, LocalSigner, Signer, SigningAlgorithm, TenantId};
//!
//! # futures::executor::block_on(async {
//! let key = LocalSigner::generate(SigningAlgorithm::EdDSA)?;
//! let tenant = TenantId::new();
//! let claims = CheckpointClaims::new("acme", tenant, 42, ChainHash::GENESIS, chrono::Utc::now());
//! let jws = claims.sign(&key).await?;
//! let keys = Jwks { keys: vec![key.public_jwk()] };
//! assert_eq!(verify_checkpoint(&keys, &jws, "acme", tenant)?.seq, 42);
//! assert!(verify_checkpoint(&keys, &jws, "acme", TenantId::new()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::event_log::ChainHash;
use crate::events::{SeatEvent, SeatEventKind};
use crate::ids::TenantId;
use crate::jws;
use crate::service::LicenseService;
use crate::signer::{Jwks, Signer};
use crate::token::TokenError;

/// The JWS `typ` of a checkpoint: never mistaken for a lease token, nor a lease for it.
pub const CHECKPOINT_TYPE: &str = "event-checkpoint+jwt";

/// Errors [`LicenseService::event_checkpoint`] may return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::InvalidInput,
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// What a checkpoint says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointClaims {
    /// The server (the lease tokens' issuer).
    pub iss: String,
    /// The tenant whose log it is.
    pub tid: TenantId,
    /// The entry's number.
    pub seq: u64,
    /// The entry's hash.
    pub hash: ChainHash,
    /// When it was signed (seconds since the epoch).
    pub iat: i64,
}

impl CheckpointClaims {
    /// The claims for entry `seq` with `hash`, signed at `now`.
    pub fn new(
        issuer: impl Into<String>,
        tenant: TenantId,
        seq: u64,
        hash: ChainHash,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            iss: issuer.into(),
            tid: tenant,
            seq,
            hash,
            iat: now.timestamp(),
        }
    }

    /// Signs them with `signer` (the tenant's key).
    pub async fn sign(&self, signer: &dyn Signer) -> Result<String> {
        jws::sign(signer, CHECKPOINT_TYPE, self).await
    }
}

/// Checks a checkpoint against `keys` (the tenant's keys, certified by the root: see
/// [`TenantJwks::certified_keys`](crate::TenantJwks::certified_keys)): signature, type,
/// issuer and tenant. Returns what it says.
pub fn verify_checkpoint(
    keys: &Jwks,
    jws: &str,
    issuer: &str,
    tenant: TenantId,
) -> std::result::Result<CheckpointClaims, TokenError> {
    jws::verify_tenant_document(
        keys,
        jws,
        CHECKPOINT_TYPE,
        issuer,
        tenant,
        |c: &CheckpointClaims| (c.iss.as_str(), c.tid),
    )
}

/// A signed checkpoint, as served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventCheckpoint {
    /// What it says.
    pub claims: CheckpointClaims,
    /// The compact JWS.
    pub jws: String,
}

impl LicenseService {
    /// Signs a checkpoint of entry `seq` of the tenant's seat-event log with the tenant's
    /// current key: `invalid_input` (field `seq`) when the log has no such entry yet.
    ///
    /// Errors: see [`ERRORS`].
    pub async fn event_checkpoint(&self, tenant: TenantId, seq: u64) -> Result<EventCheckpoint> {
        if seq == 0 {
            return Err(Error::invalid("seq", "entries are numbered from 1"));
        }
        let entry = self
            .store
            .read_events(tenant, seq - 1, 1)
            .await?
            .into_iter()
            .next()
            .filter(|e| e.seq == seq)
            .ok_or_else(|| Error::invalid("seq", "the tenant's event log has no such entry yet"))?;
        let now = self.clock.now();
        // The key that signs now (a lease expiring a minute from now would get the same).
        let expires = now + chrono::TimeDelta::seconds(60);
        let signer = self.tenant_keys().signer_for(tenant, expires).await?;
        let claims = CheckpointClaims::new(self.issuer.clone(), tenant, seq, entry.hash, now);
        let jws = claims.sign(signer.as_ref()).await?;
        Ok(EventCheckpoint { claims, jws })
    }
}

/// Why the checkpoints a range holds do not vouch for it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmbeddedBreak {
    /// A `checkpoint` entry's signature, type, issuer or tenant does not verify.
    #[error("the checkpoint in entry {seq} does not verify: {reason}")]
    Unverified {
        /// The entry holding the checkpoint.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// A checkpoint vouches for a hash that the entry it names does not have.
    #[error(
        "entry {vouched} has hash {found}, but the checkpoint in entry {seq} vouches for {hash}"
    )]
    Mismatch {
        /// The entry holding the checkpoint.
        seq: u64,
        /// The entry it vouches for.
        vouched: u64,
        /// The hash it vouches for.
        hash: ChainHash,
        /// The hash that entry has.
        found: ChainHash,
    },
}

/// What the `checkpoint` entries of a range say, checked: each one's JWS verifies against
/// `keys` for `tenant` and says what its entry says, and when the entry it vouches for is
/// in the range, that entry has the hash vouched for. Check the chain first
/// ([`verify_chain`](crate::event_log::verify_chain)): a checkpoint then vouches for every
/// entry up to the one it names. Returns the checkpoints' claims, in log order.
pub fn verify_embedded(
    entries: &[crate::event_log::LogEntry],
    keys: &Jwks,
    issuer: &str,
    tenant: TenantId,
) -> std::result::Result<Vec<CheckpointClaims>, EmbeddedBreak> {
    #[derive(Deserialize)]
    struct Logged {
        #[serde(rename = "type")]
        kind: String,
        seq: Option<u64>,
        hash: Option<ChainHash>,
        checkpoint: Option<String>,
    }
    let mut found = Vec::new();
    for entry in entries {
        let Ok(logged) = serde_json::from_str::<Logged>(&entry.body) else {
            continue;
        };
        if logged.kind != "checkpoint" {
            continue;
        }
        let unverified = |reason: String| EmbeddedBreak::Unverified {
            seq: entry.seq,
            reason,
        };
        let jws = logged
            .checkpoint
            .ok_or_else(|| unverified("it holds no JWS".into()))?;
        let claims =
            verify_checkpoint(keys, &jws, issuer, tenant).map_err(|e| unverified(e.to_string()))?;
        if Some(claims.seq) != logged.seq || Some(claims.hash) != logged.hash {
            return Err(unverified(
                "its JWS says another entry or hash than it does".into(),
            ));
        }
        if let Some(vouched) = entries.iter().find(|e| e.seq == claims.seq)
            && vouched.hash != claims.hash
        {
            return Err(EmbeddedBreak::Mismatch {
                seq: entry.seq,
                vouched: claims.seq,
                hash: claims.hash,
                found: vouched.hash,
            });
        }
        found.push(claims);
    }
    Ok(found)
}

impl LicenseService {
    /// Signs a checkpoint of each tenant's last log entry and puts it on record in the log
    /// itself, as a `checkpoint` event — unless that entry is a checkpoint already, so an idle
    /// log gets one and no more. The server runs it every `events.checkpoint_interval_seconds`.
    /// Returns how many it signed.
    ///
    /// Errors: see [`ERRORS`] (the first tenant that fails stops the pass; the next pass
    /// starts over).
    pub async fn checkpoint_event_logs(&self) -> Result<u64> {
        let mut signed = 0;
        for tenant in self.store.list_tenants().await? {
            // An empty append reads the log's last number without writing.
            let head = self.store.append_events(tenant.id, Vec::new()).await?;
            if head == 0 {
                continue;
            }
            let last = self.store.read_events(tenant.id, head - 1, 1).await?;
            let Some(entry) = last.first() else { continue };
            let kind = serde_json::from_str::<serde_json::Value>(&entry.body)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned));
            if kind.as_deref() == Some("checkpoint") {
                continue;
            }
            let checkpoint = self.event_checkpoint(tenant.id, head).await?;
            let kind = SeatEventKind::Checkpoint {
                seq: checkpoint.claims.seq,
                hash: checkpoint.claims.hash,
                checkpoint: checkpoint.jws,
            };
            self.emit(SeatEvent::new(self.clock.now(), tenant.id, kind));
            signed += 1;
        }
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{LocalSigner, SigningAlgorithm};

    #[test]
    fn a_checkpoint_is_refused_for_another_key_issuer_tenant_or_type() {
        futures::executor::block_on(async {
            let key = LocalSigner::generate(SigningAlgorithm::ES256).unwrap();
            let other = LocalSigner::generate(SigningAlgorithm::ES256).unwrap();
            let tenant = TenantId::new();
            let claims = CheckpointClaims::new("acme", tenant, 7, ChainHash::GENESIS, Utc::now());
            let jws = claims.sign(&key).await.unwrap();
            let keys = Jwks {
                keys: vec![key.public_jwk()],
            };
            assert_eq!(
                verify_checkpoint(&keys, &jws, "acme", tenant),
                Ok(claims.clone())
            );
            let strangers = Jwks {
                keys: vec![other.public_jwk()],
            };
            assert!(matches!(
                verify_checkpoint(&strangers, &jws, "acme", tenant),
                Err(TokenError::UnknownKey(_))
            ));
            assert!(matches!(
                verify_checkpoint(&keys, &jws, "other", tenant),
                Err(TokenError::WrongIssuer(_))
            ));
            assert!(matches!(
                verify_checkpoint(&keys, &jws, "acme", TenantId::new()),
                Err(TokenError::WrongAudience(_))
            ));
            // A lease-typed JWS with the same claims is no checkpoint.
            let lease_typed = jws::sign(&key, "license+jwt", &claims).await.unwrap();
            assert!(matches!(
                verify_checkpoint(&keys, &lease_typed, "acme", tenant),
                Err(TokenError::WrongType(_))
            ));
            // Altered claims break the signature.
            let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
            let forged = CheckpointClaims { seq: 8, ..claims };
            parts[1] = base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                serde_json::to_vec(&forged).unwrap(),
            );
            assert_eq!(
                verify_checkpoint(&keys, &parts.join("."), "acme", tenant),
                Err(TokenError::BadSignature)
            );
        });
    }
}
