//! Every Redis key the ledger uses, built in one place.
//!
//! All keys of one license share the hash tag `{<tenant>:<license>}`, so Redis Cluster keeps
//! them in one slot and a script can touch them together. Scripts never build keys: they get
//! them in `KEYS`, which is also what lets the cluster client route each call.
//!
//! The names carry the layout's version (`v2`): the keys of an older layout (`lic:{t:l}:seats`,
//! `:hw`, `:owners`, `:init`) are never read, so after an upgrade each license finds no marker,
//! answers `Rebuild` once and is rebuilt from the store; the old keys expire on their own.
//! The keys for borrowed and lingering seats and for hold-offs (issue #19) joined `v2` without
//! a new version: they start absent, which is exactly the state of a license that has none,
//! and a seat without them is an ordinary held seat, as it was. So did the keys of seat
//! policies (issue #20), `counts` and `tags`: absent while no seat counts toward anything,
//! which is the state of a license without policy. And so did the seat queue's `queue`,
//! `tickets` and `deadlines` (issue #20, ADR 0029): absent while nobody waits.

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
    /// `lic:{t:l}:v2:borrowed` — sorted set: machine digest → expiry of its borrowed seat.
    pub(crate) borrowed: String,
    /// `lic:{t:l}:v2:lingering` — sorted set: machine digest → end of its seat's linger.
    pub(crate) lingering: String,
    /// `lic:{t:l}:v2:holds` — hash: `m` + machine digest or `u` + user digest →
    /// `<until ms>:<reason>`: the hold-offs after evictions.
    pub(crate) holds: String,
    /// `lic:{t:l}:v2:counts` — hash: counter digest → how many live seats count toward it
    /// (seat policies: groups, users, hosts, processes per machine). Absent while none does.
    pub(crate) counts: String,
    /// `lic:{t:l}:v2:tags` — hash: machine digest → the 12-byte counter digests its seat
    /// counts toward, concatenated; what the seat's end takes off `counts`. Absent while no
    /// seat counts toward anything.
    pub(crate) tags: String,
    /// `lic:{t:l}:v2:queue` — sorted set: a waiting ticket (its session id) → its order
    /// (priority, then arrival). Absent while nobody waits.
    pub(crate) queue: String,
    /// `lic:{t:l}:v2:tickets` — hash: ticket → its packed record (machine, poll-by,
    /// wait-until, tally), and `arrivals` → the license's arrival counter. Absent while nobody
    /// waits.
    pub(crate) tickets: String,
    /// `lic:{t:l}:v2:deadlines` — sorted set: ticket → when it is dropped unless polled again
    /// (the earlier of its poll-by and wait-until, ms), so stale tickets go in O(log n).
    /// Absent while nobody waits.
    pub(crate) deadlines: String,
}

impl LicenseKeys {
    /// The keys of `key`'s license.
    pub(crate) fn new(key: &LedgerKey) -> Self {
        let tag = hash_tag(key);
        Self {
            init: format!("lic:{tag}:v2:init"),
            seats: format!("lic:{tag}:v2:seats"),
            holders: format!("lic:{tag}:v2:holders"),
            borrowed: format!("lic:{tag}:v2:borrowed"),
            lingering: format!("lic:{tag}:v2:lingering"),
            holds: format!("lic:{tag}:v2:holds"),
            counts: format!("lic:{tag}:v2:counts"),
            tags: format!("lic:{tag}:v2:tags"),
            queue: format!("lic:{tag}:v2:queue"),
            tickets: format!("lic:{tag}:v2:tickets"),
            deadlines: format!("lic:{tag}:v2:deadlines"),
        }
    }

    /// Every key, in the order the acquire and rebuild scripts expect them.
    pub(crate) fn all(&self) -> [&str; 11] {
        [
            &self.init,
            &self.seats,
            &self.holders,
            &self.borrowed,
            &self.lingering,
            &self.holds,
            &self.counts,
            &self.tags,
            &self.queue,
            &self.tickets,
            &self.deadlines,
        ]
    }

    /// The keys in the order the evict script expects them: all but the queue's.
    pub(crate) fn evict_keys(&self) -> [&str; 8] {
        [
            &self.init,
            &self.seats,
            &self.holders,
            &self.borrowed,
            &self.lingering,
            &self.holds,
            &self.counts,
            &self.tags,
        ]
    }

    /// The queue's keys, in the order the leave script expects them.
    pub(crate) fn queue_keys(&self) -> [&str; 3] {
        [&self.queue, &self.tickets, &self.deadlines]
    }

    /// The marker and the queue's keys, in the order the queue script expects them.
    pub(crate) fn waiter_keys(&self) -> [&str; 4] {
        [&self.init, &self.queue, &self.tickets, &self.deadlines]
    }

    /// The keys of the seats, in the order the renew and linger scripts expect them: all but
    /// the hold-offs.
    pub(crate) fn seat_keys(&self) -> [&str; 7] {
        [
            &self.init,
            &self.seats,
            &self.holders,
            &self.borrowed,
            &self.lingering,
            &self.counts,
            &self.tags,
        ]
    }

    /// The keys in the order the release script expects them.
    pub(crate) fn release_keys(&self) -> [&str; 6] {
        [
            &self.seats,
            &self.holders,
            &self.borrowed,
            &self.lingering,
            &self.counts,
            &self.tags,
        ]
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
        assert_eq!(keys.holds, format!("lic:{tag}:v2:holds"));
        assert_eq!(keys.counts, format!("lic:{tag}:v2:counts"));
        assert_eq!(keys.tags, format!("lic:{tag}:v2:tags"));
        assert_eq!(keys.queue, format!("lic:{tag}:v2:queue"));
        assert_eq!(keys.tickets, format!("lic:{tag}:v2:tickets"));
        assert_eq!(keys.deadlines, format!("lic:{tag}:v2:deadlines"));
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
