//! Every Redis key the ledger uses, built in one place.
//!
//! All keys of one license share the hash tag `{<tenant>:<license>}`, so Redis Cluster keeps
//! them in one slot and a script can touch them together. Scripts never build keys: they get
//! them in `KEYS`, which is also what lets the cluster client route each call.
//!
//! The names carry the layout's version (`v2`): the keys of an older layout (`lic:{t:l}:seats`,
//! `:hw`, `:owners`, `:init`) are never read, so after an upgrade each license finds no marker,
//! answers `Rebuild` once and is rebuilt from the store; the old keys expire on their own.

use license_core::LedgerKey;

/// The keys of one license's seats (`lua/common.lua` explains the layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LicenseKeys {
    /// `lic:{t:l}:v2:init` — present once the license's state is initialised (rebuilt).
    pub(crate) init: String,
    /// `lic:{t:l}:v2:seats` — sorted set: member = machine digest, score = expiry in ms.
    pub(crate) seats: String,
    /// `lic:{t:l}:v2:holders` — hash: bucket → packed (machine digest, session id) records:
    /// which session holds each machine's seat.
    pub(crate) holders: String,
}

impl LicenseKeys {
    /// The keys of `key`'s license.
    pub(crate) fn new(key: &LedgerKey) -> Self {
        let tag = hash_tag(key);
        Self {
            init: format!("lic:{tag}:v2:init"),
            seats: format!("lic:{tag}:v2:seats"),
            holders: format!("lic:{tag}:v2:holders"),
        }
    }

    /// The keys in the order the acquire, renew and rebuild scripts expect them.
    pub(crate) fn all(&self) -> [&str; 3] {
        [&self.init, &self.seats, &self.holders]
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
        assert_eq!(keys.seats, format!("lic:{tag}:v2:seats"));
        assert_eq!(keys.init, format!("lic:{tag}:v2:init"));
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
