//! Keeping the keys current: the periodic step ([`TenantKeys::maintain_once`]) that learns of
//! other replicas' keys and revocations and makes successors when due, an administrator's
//! rotation ([`TenantKeys::rotate`]), and the health readiness reports.

use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use tracing::warn;

use super::record::TenantKey;
use super::ring::TenantKeys;
use super::timeline::{DEGRADED_WITHIN, LONGEST_LEASE, delta};
use crate::audit::{Actor, AuditEvent};
use crate::error::{Error, Result};
use crate::ids::TenantId;

/// What one maintenance step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaintainOutcome {
    /// Tenants reloaded because another replica made or revoked a key.
    pub reloaded: u32,
    /// Successors made.
    pub created: u32,
    /// Reloads or successors that failed (retried at the next step).
    pub failed: u32,
}

/// How far back each look for changes reaches before the previous one, for clock skew
/// between replicas and transactions that commit late.
const POLL_OVERLAP: TimeDelta = TimeDelta::seconds(60);

impl TenantKeys {
    /// One maintenance step; the server runs it every few seconds. Memory and one store query
    /// when nothing is due.
    pub async fn maintain_once(&self) -> MaintainOutcome {
        let mut outcome = MaintainOutcome::default();
        let now = self.clock.now();
        let since = {
            let mut from = self
                .polled_from
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::replace(&mut *from, now - POLL_OVERLAP)
        };
        match self.store.tenant_keys_changed_since(since).await {
            Ok(tenants) => {
                for tenant in tenants {
                    if self.rings.contains_key(&tenant) {
                        match self.reload(tenant).await {
                            Ok(()) => outcome.reloaded += 1,
                            Err(_) => outcome.failed += 1,
                        }
                    }
                }
            }
            Err(e) => {
                warn!(error = %e, "looking for other replicas' tenant-key changes failed");
                *self
                    .polled_from
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = since;
                outcome.failed += 1;
            }
        }
        // First, in memory: idle tenants, and how the keys in use stand (for readiness, before
        // any slow call to the root below).
        let idle_after = delta(self.config.rotation).num_seconds();
        let mut earliest = i64::MAX;
        let mut due = Vec::new();
        let signing: Vec<(TenantId, Arc<super::ring::Ring>)> = self
            .rings
            .iter()
            .filter(|(_, ring)| ring.signs)
            .map(|(tenant, ring)| (*tenant, ring))
            .collect();
        for (tenant, ring) in signing {
            if now.timestamp() - ring.last_used.load(Ordering::Relaxed) > idle_after {
                // Idle for a rotation: stop rotating its key here; its next lease reloads.
                self.rings.insert(tenant, Arc::new(ring.demoted()));
                continue;
            }
            let Some(current) = ring.current(now) else {
                // Revoked and not replaced: its leases fail until the root answers.
                earliest = i64::MIN;
                continue;
            };
            earliest = earliest.min(current.expires_at.timestamp());
            let has_successor = ring
                .newest()
                .is_some_and(|n| n.generation > current.generation);
            if !has_successor && now >= self.successor_due(current) {
                due.push(tenant);
            }
        }
        self.earliest_expiry.store(earliest, Ordering::Relaxed);
        // Then the successors due, one root signature each. The first time the root does not
        // answer, the rest wait for the next step: no use spending a spent quota.
        for tenant in due {
            match self.make_successor(tenant).await {
                Ok(true) => outcome.created += 1,
                Ok(false) => {}
                Err(e) => {
                    warn!(tenant_id = %tenant, error = %e, "making the next tenant key failed; the current one signs on");
                    self.stats.rotation_failures.fetch_add(1, Ordering::Relaxed);
                    outcome.failed += 1;
                    if matches!(e, Error::Unavailable { .. }) {
                        break;
                    }
                }
            }
        }
        outcome
    }

    /// When this replica makes `current`'s successor: past the middle of its rotation, plus
    /// a spread of up to an eighth of a rotation so replicas and tenants do not all call the
    /// root at once.
    fn successor_due(&self, current: &TenantKey) -> DateTime<Utc> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (self.seed, current.tenant_id).hash(&mut hasher);
        let spread = self.config.rotation.as_millis() / 8;
        let jitter = u64::try_from(u128::from(hasher.finish()) % spread.max(1)).unwrap_or(0);
        current.activates_at
            + delta(self.config.rotation - self.config.lead())
            + TimeDelta::milliseconds(i64::try_from(jitter).unwrap_or(0))
    }

    async fn reload(&self, tenant: TenantId) -> Result<()> {
        let lock = self.lock_of(tenant);
        let _held = lock.lock().await;
        let signs = self.rings.get(&tenant).is_some_and(|r| r.signs);
        let ring = self.load(tenant, signs).await?;
        self.rings.insert(tenant, Arc::new(ring));
        Ok(())
    }

    /// Makes the successor of the tenant's current key unless another replica did. Whether
    /// this call made it.
    async fn make_successor(&self, tenant: TenantId) -> Result<bool> {
        let lock = self.lock_of(tenant);
        let _held = lock.lock().await;
        let now = self.clock.now();
        let ring = self.load(tenant, true).await?;
        let Some(current) = ring.current(now).cloned() else {
            self.rings.insert(tenant, Arc::new(ring));
            return Ok(false);
        };
        if ring
            .newest()
            .is_some_and(|n| n.generation > current.generation)
        {
            self.rings.insert(tenant, Arc::new(ring));
            return Ok(false);
        }
        // Normally its predecessor's retirement. Made late (the root was down, or the tenant
        // was idle), it is still published ahead when the current key can wait: until a lead
        // from now, as long as it still covers the longest lease.
        let latest = current.expires_at - delta(LONGEST_LEASE);
        let activates_at = current
            .retires_at
            .max((now + delta(self.config.lead())).min(latest))
            .max(now);
        match self
            .create(tenant, ring.next_generation(), activates_at, None)
            .await
        {
            Ok((key, signer)) => {
                self.install(tenant, ring, key, signer);
                Ok(true)
            }
            Err(Error::Conflict(_)) => {
                let ring = self.load(tenant, true).await?;
                self.rings.insert(tenant, Arc::new(ring));
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// An administrator's rotation: a new key that signs from now on. With `revoke_previous`
    /// (a leaked key), every earlier key is revoked first, so tokens they signed stop
    /// verifying once clients refetch the key set. Other replicas switch within one
    /// maintenance step.
    pub async fn rotate(
        &self,
        tenant: TenantId,
        revoke_previous: bool,
        actor: &Actor,
    ) -> Result<TenantKey> {
        let lock = self.lock_of(tenant);
        let _held = lock.lock().await;
        let now = self.clock.now();
        let ring = self.load(tenant, true).await?;
        let generation = ring.next_generation();
        let event = |action: &str| {
            AuditEvent::new(
                tenant,
                actor.clone(),
                action,
                format!("tenant:{tenant}"),
                now,
                json!({ "generation": generation, "revoke_previous": revoke_previous }),
            )
        };
        if revoke_previous && generation > 1 {
            self.store
                .revoke_tenant_keys(tenant, generation - 1, now, &event("signing_key.revoke"))
                .await?;
        }
        let (key, _) = self
            .create(tenant, generation, now, Some(&event("signing_key.rotate")))
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict(
                    "another replica is replacing this tenant's key; try again".into(),
                ),
                other => other,
            })?;
        let ring = self.load(tenant, true).await?;
        self.rings.insert(tenant, Arc::new(ring));
        Ok(key)
    }

    /// How the keys this replica signs with stand, as of the last maintenance step (memory
    /// only: readiness probes never reach the root). `Some(reason)` — degraded — when a
    /// tenant it signs for has no key left, or a key whose certificate will soon not cover the
    /// longest lease and no successor could be certified. Never a failure: every replica
    /// shares the root, so taking replicas out of service would not help.
    pub fn health(&self) -> Option<String> {
        let earliest = self.earliest_expiry.load(Ordering::Relaxed);
        if earliest == i64::MAX {
            return None;
        }
        let advice = "no successor could be certified: check that the root key (Cloud KMS) answers";
        if earliest == i64::MIN {
            return Some(format!("a tenant's signing keys were revoked and {advice}"));
        }
        let now = self.clock.now();
        let at = DateTime::<Utc>::from_timestamp(earliest, 0).unwrap_or_default();
        (earliest <= (now + delta(DEGRADED_WITHIN)).timestamp())
            .then(|| format!("a tenant signing key's certificate expires at {at} and {advice}"))
    }
}
