//! Every Redis key the ledger uses, built in one place.
//!
//! All keys of one license share the hash tag `{<tenant>:<license>}`, so Redis Cluster keeps
//! them in one slot and a script can touch them together. Scripts never build keys: they get
//! them in `KEYS`, which is also what lets the cluster client route each call.

use license_core::LedgerKey;

/// The keys of one license's seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LicenseKeys {
    /// `lic:{t:l}:init` — present once the license's state is initialised (rebuilt).
    pub(crate) init: String,
    /// `lic:{t:l}:seats` — sorted set: member = session id, score = expiry in ms.
    pub(crate) seats: String,
    /// `lic:{t:l}:hw` — hash: hardware id → session id, for idempotent acquire per machine.
    pub(crate) hw: String,
    /// `lic:{t:l}:owners` — hash: session id → hardware id, to clean `hw` up on release/expiry.
    pub(crate) owners: String,
}

impl LicenseKeys {
    /// The keys of `key`'s license.
    pub(crate) fn new(key: &LedgerKey) -> Self {
        let tag = hash_tag(key);
        Self {
            init: format!("lic:{tag}:init"),
            seats: format!("lic:{tag}:seats"),
            hw: format!("lic:{tag}:hw"),
            owners: format!("lic:{tag}:owners"),
        }
    }

    /// The keys in the order the acquire, renew and rebuild scripts expect them.
    pub(crate) fn all(&self) -> [&str; 4] {
        [&self.init, &self.seats, &self.hw, &self.owners]
    }
}

/// `{<tenant>:<license>}`: UUIDs hold no braces, so the tag is exactly this text.
fn hash_tag(key: &LedgerKey) -> String {
    format!("{{{}:{}}}", key.tenant_id, key.license_id)
}

#[cfg(test)]
mod tests {
    use license_core::{LicenseId, TenantId};

    use super::*;

    #[test]
    fn every_key_carries_the_license_hash_tag() {
        let key = LedgerKey {
            tenant_id: "0193a1b2-0000-7000-8000-000000000001".parse().unwrap(),
            license_id: "0193a1b2-0000-7000-8000-000000000002".parse().unwrap(),
        };
        let keys = LicenseKeys::new(&key);
        let tag = "{0193a1b2-0000-7000-8000-000000000001:0193a1b2-0000-7000-8000-000000000002}";
        assert_eq!(keys.seats, format!("lic:{tag}:seats"));
        assert_eq!(keys.init, format!("lic:{tag}:init"));
        for k in keys.all() {
            // Redis Cluster hashes the text between the first `{` and the next `}`.
            let start = k.find('{').unwrap();
            let end = start + k[start..].find('}').unwrap();
            assert_eq!(&k[start..=end], tag, "{k}");
        }
    }

    #[test]
    fn licenses_of_one_tenant_get_distinct_keys() {
        let tenant_id = TenantId::new();
        let a = LicenseKeys::new(&LedgerKey {
            tenant_id,
            license_id: LicenseId::new(),
        });
        let b = LicenseKeys::new(&LedgerKey {
            tenant_id,
            license_id: LicenseId::new(),
        });
        assert_ne!(a.seats, b.seats);
        assert_ne!(a.init, b.init);
    }
}
