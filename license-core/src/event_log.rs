//! The seat-event log (ADR 0030): every seat event of a tenant stored append-only, numbered
//! without gaps and linked in a hash chain, so a record altered, removed or inserted after the
//! fact is caught by [`verify_chain`](crate::event_log::verify_chain) — offline, from an
//! exported range.
//!
//! Each entry's hash is SHA-256 over a length-prefixed encoding of its sequence number, the
//! replica that wrote it, the event's JSON text exactly as stored, and the previous entry's
//! hash (the first entry of a tenant links to
//! [`ChainHash::GENESIS`](crate::event_log::ChainHash::GENESIS)). The JSON text is the record:
//! it is kept and served byte for byte, never re-serialized.
//!
//! ```
//! use license_core::event_log::{ChainHash, LogEntry, NewLogEntry, verify_chain};
//!
//! let new = |body: &str| NewLogEntry { at: chrono::Utc::now(), replica: "r1".into(), body: body.into() };
//! let first = LogEntry::link(1, &ChainHash::GENESIS, new(r#"{"type":"granted"}"#));
//! let second = LogEntry::link(2, &first.hash, new(r#"{"type":"released"}"#));
//! assert!(verify_chain(&[first.clone(), second.clone()], None).is_ok());
//!
//! let mut altered = second.clone();
//! altered.body = r#"{"type":"expired"}"#.into();
//! let broken = verify_chain(&[first, altered], None).unwrap_err();
//! assert_eq!(broken.seq(), 2);
//! ```

use std::fmt;

use async_trait::async_trait;
use aws_lc_rs::digest;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::{LicenseId, TenantId};
use crate::log_retention::{KeptDay, LogCut};

/// Domain separation: a hash of this log is never a hash of anything else.
const DOMAIN: &[u8] = b"license-event-log/v1";

/// A link of the chain: 32 bytes of SHA-256, shown and serialized as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// What a tenant's first entry links to.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// From raw bytes (a store's column); `None` unless exactly 32.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(ChainHash)
    }

    /// From 64 hex digits; `None` otherwise.
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(ChainHash(bytes))
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

impl Serialize for ChainHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ChainHash::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("a chain hash is 64 hex digits"))
    }
}

/// An event to append: when it happened, the replica writing it, and its JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLogEntry {
    /// When the event happened (the event's own `at`; kept for range queries).
    pub at: DateTime<Utc>,
    /// The replica that saw it.
    pub replica: String,
    /// The event's JSON (`docs/events.md`), stored and served byte for byte.
    pub body: String,
}

/// One entry of a tenant's log, as stored and as exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Its number in the tenant's log: 1, 2, 3, … without gaps.
    pub seq: u64,
    /// When the event happened.
    pub at: DateTime<Utc>,
    /// The replica that wrote it.
    pub replica: String,
    /// The event's JSON text.
    pub body: String,
    /// The previous entry's hash ([`ChainHash::GENESIS`] for the first).
    pub prev_hash: ChainHash,
    /// This entry's hash.
    pub hash: ChainHash,
}

impl LogEntry {
    /// The entry numbered `seq` after the one whose hash is `prev`: what a store appends.
    pub fn link(seq: u64, prev: &ChainHash, new: NewLogEntry) -> Self {
        let hash = chain_hash(seq, prev, &new.replica, &new.body);
        LogEntry {
            seq,
            at: new.at,
            replica: new.replica,
            body: new.body,
            prev_hash: *prev,
            hash,
        }
    }

    /// Whether its hash is the hash of what it holds.
    pub fn is_intact(&self) -> bool {
        chain_hash(self.seq, &self.prev_hash, &self.replica, &self.body) == self.hash
    }
}

/// The hash of one entry.
fn chain_hash(seq: u64, prev: &ChainHash, replica: &str, body: &str) -> ChainHash {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(DOMAIN);
    context.update(&seq.to_be_bytes());
    for part in [replica.as_bytes(), body.as_bytes()] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    context.update(prev.as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(context.finish().as_ref());
    ChainHash(bytes)
}

/// Where a range of the log stops being trustworthy: the first entry at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// An entry's hash is not the hash of what it holds: it was altered.
    #[error("entry {seq} was altered: its hash does not match its contents")]
    Altered {
        /// The entry.
        seq: u64,
    },
    /// An entry does not link to the one before it (one was removed, replaced or reordered).
    #[error("entry {seq} does not follow the entry before it")]
    Unlinked {
        /// The entry.
        seq: u64,
    },
    /// Entries are missing before `seq` (expected `expected`).
    #[error("entries {expected} to {} are missing", .seq - 1)]
    Missing {
        /// The number that should have come next.
        expected: u64,
        /// The number found instead.
        seq: u64,
    },
    /// Numbers go back or repeat at `seq`.
    #[error("entry {seq} is out of order")]
    OutOfOrder {
        /// The entry.
        seq: u64,
    },
}

impl ChainBreak {
    /// The number of the first entry at fault.
    pub fn seq(&self) -> u64 {
        match self {
            ChainBreak::Altered { seq }
            | ChainBreak::Unlinked { seq }
            | ChainBreak::Missing { seq, .. }
            | ChainBreak::OutOfOrder { seq } => *seq,
        }
    }
}

/// Checks a range of one tenant's log, in order: every entry intact, numbered one after the
/// other, each linked to the one before. `anchor` is the entry the range follows (its number
/// and hash, from an earlier verified range or a signed checkpoint); without one, a range that
/// starts at 1 must link to [`ChainHash::GENESIS`] and any other start is taken on trust.
pub fn verify_chain(
    entries: &[LogEntry],
    anchor: Option<(u64, ChainHash)>,
) -> std::result::Result<(), ChainBreak> {
    let mut before = anchor.or_else(|| match entries.first() {
        Some(first) if first.seq <= 1 => Some((0, ChainHash::GENESIS)),
        Some(first) => Some((first.seq - 1, first.prev_hash)),
        None => None,
    });
    for entry in entries {
        if let Some((seq, hash)) = before {
            if entry.seq <= seq {
                return Err(ChainBreak::OutOfOrder { seq: entry.seq });
            }
            if entry.seq > seq + 1 {
                return Err(ChainBreak::Missing {
                    expected: seq + 1,
                    seq: entry.seq,
                });
            }
            if entry.prev_hash != hash {
                return Err(ChainBreak::Unlinked { seq: entry.seq });
            }
        }
        if !entry.is_intact() {
            return Err(ChainBreak::Altered { seq: entry.seq });
        }
        before = Some((entry.seq, entry.hash));
    }
    Ok(())
}

/// Where the log is kept: shared by every replica, one chain per tenant.
#[async_trait]
pub trait EventLogStore: Send + Sync + fmt::Debug {
    /// Appends `entries` to `tenant`'s log in this order, numbered after its last entry and
    /// linked to it, in one transaction (replicas appending at once are serialised per
    /// tenant). Returns the last number given (the log's last when `entries` is empty).
    /// `NotFound(Tenant)` when the tenant does not exist.
    async fn append_events(&self, tenant: TenantId, entries: Vec<NewLogEntry>) -> Result<u64>;

    /// Up to `limit` entries of `tenant`'s log numbered after `after`, oldest first.
    async fn read_events(&self, tenant: TenantId, after: u64, limit: u32) -> Result<Vec<LogEntry>>;

    /// Where `tenant`'s log was last cut by its retention (ADR 0034), if ever.
    async fn log_cut(&self, tenant: TenantId) -> Result<Option<LogCut>>;

    /// In one transaction: keeps `days` (replacing a license's earlier figures for the same
    /// day), records `cut` as the tenant's cut, and deletes the entries numbered up to
    /// `cut.seq`. Returns how many entries it deleted. The log's numbering goes on after its
    /// last entry as before. `previous` is the cut's number the trim was computed from
    /// (`None`: no cut yet): when the tenant's cut is another by then (another replica
    /// trimmed meanwhile), `Conflict` and nothing changes. `NotFound(Tenant)` when the tenant
    /// does not exist.
    async fn trim_events(
        &self,
        tenant: TenantId,
        previous: Option<u64>,
        cut: &LogCut,
        days: &[KeptDay],
    ) -> Result<u64>;

    /// The license's kept figures for the days `from` to `to` (inclusive), oldest first.
    async fn kept_days(
        &self,
        tenant: TenantId,
        license: LicenseId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<KeptDay>>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn chain(n: u64) -> Vec<LogEntry> {
        let mut prev = ChainHash::GENESIS;
        (1..=n)
            .map(|seq| {
                let entry = LogEntry::link(
                    seq,
                    &prev,
                    NewLogEntry {
                        at: Utc::now(),
                        replica: "r".into(),
                        body: format!(r#"{{"n":{seq}}}"#),
                    },
                );
                prev = entry.hash;
                entry
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_whole_or_in_ranges() {
        let log = chain(5);
        assert_eq!(verify_chain(&log, None), Ok(()));
        assert_eq!(verify_chain(&log[2..], None), Ok(()), "taken on trust");
        let anchor = Some((log[1].seq, log[1].hash));
        assert_eq!(verify_chain(&log[2..], anchor), Ok(()));
        assert_eq!(verify_chain(&[], None), Ok(()));
    }

    #[test]
    fn each_kind_of_tampering_names_the_first_entry_at_fault() {
        let log = chain(5);
        let mut altered = log.clone();
        altered[2].replica = "other".into();
        assert_eq!(
            verify_chain(&altered, None),
            Err(ChainBreak::Altered { seq: 3 })
        );
        let mut removed = log.clone();
        removed.remove(2);
        assert_eq!(
            verify_chain(&removed, None),
            Err(ChainBreak::Missing {
                expected: 3,
                seq: 4
            })
        );
        // Renumbered and re-hashed after a removal: the link to the entry before breaks.
        let mut forged = log.clone();
        forged.remove(2);
        forged[2] = LogEntry::link(
            3,
            &forged[2].prev_hash,
            NewLogEntry {
                at: forged[2].at,
                replica: "r".into(),
                body: forged[2].body.clone(),
            },
        );
        assert_eq!(
            verify_chain(&forged[..3], None),
            Err(ChainBreak::Unlinked { seq: 3 })
        );
        let mut swapped = log.clone();
        swapped.swap(1, 2);
        assert_eq!(
            verify_chain(&swapped, None),
            Err(ChainBreak::Missing {
                expected: 2,
                seq: 3
            })
        );
        let anchored = verify_chain(&log[3..], Some((log[3].seq, log[3].hash)));
        assert_eq!(anchored, Err(ChainBreak::OutOfOrder { seq: 4 }));
        // A first entry that does not start from the genesis.
        let mut rooted = log;
        rooted[0].prev_hash = rooted[1].hash;
        assert_eq!(
            verify_chain(&rooted, None),
            Err(ChainBreak::Unlinked { seq: 1 })
        );
    }

    #[test]
    fn hashes_round_trip_as_hex() {
        let hash = chain(1)[0].hash;
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(ChainHash::from_hex(&text), Some(hash));
        assert_eq!(ChainHash::from_hex("zz"), None);
        assert_eq!(ChainHash::from_slice(hash.as_bytes()), Some(hash));
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(serde_json::from_str::<ChainHash>(&json).unwrap(), hash);
    }
}
