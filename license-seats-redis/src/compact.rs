//! Sessions and machines in the compact forms the scripts store: a session id as its 16 raw
//! bytes (not 36 characters of text), a machine as a 12-byte digest of its hardware id, a
//! person held off as a 12-byte digest of their [`UserRef`].
//!
//! The digest is the first 96 bits of SHA-256. Two machines of one license whose digests
//! collide would share a seat; among a million machines on one license the chance that any two
//! collide is about n² / 2⁹⁷ ≈ 6 × 10⁻¹⁸, and making a hardware id collide with a given one
//! takes about 2⁹⁶ hashes. (A client that wants two machines to share a seat can simply report
//! one hardware id twice: collisions give it nothing new.)

use aws_lc_rs::digest::{SHA256, digest};
use license_core::{Counter, HardwareId, SeatKind, SessionId, UserRef};
use uuid::Uuid;

/// Bytes of a machine digest (`MACHINE` in `lua/common.lua`).
pub(crate) const MACHINE_LEN: usize = 12;

/// A session id as the scripts store it.
pub(crate) fn session(id: SessionId) -> [u8; 16] {
    id.as_uuid().into_bytes()
}

/// A session id the scripts returned, or `None` if it is not 16 bytes.
pub(crate) fn session_from(bytes: &[u8]) -> Option<SessionId> {
    let bytes: [u8; 16] = bytes.try_into().ok()?;
    Some(SessionId::from_uuid(Uuid::from_bytes(bytes)))
}

/// A machine as the scripts store it: the first 12 bytes of SHA-256 of its hardware id.
pub(crate) fn machine(hardware_id: &HardwareId) -> [u8; MACHINE_LEN] {
    sha256_prefix(hardware_id.as_str())
}

/// A person as the hold-offs name them: the first 12 bytes of SHA-256 of their reference
/// (`email:…` or `sub:…`), so no address is stored in Redis. A collision would hold off a
/// second person along with the first; the odds are those of machine digests.
pub(crate) fn user(user: &UserRef) -> [u8; MACHINE_LEN] {
    sha256_prefix(&user.0)
}

/// A seat policy's counter as `counts` and `tags` name it: the first 12 bytes of SHA-256 of
/// its text (`g:<group>`, `u:<user>`, …), so no name or address is stored in Redis. Two
/// counters whose digests collide would be counted together; the odds are those of machines.
pub(crate) fn counter(counter: &Counter) -> [u8; MACHINE_LEN] {
    sha256_prefix(&counter.0)
}

/// The counters a seat counts toward, as the scripts take them: their digests concatenated.
pub(crate) fn counters(counters: &[Counter]) -> Vec<u8> {
    counters.iter().flat_map(counter).collect()
}

/// A hold-off's party as the `holds` hash names it: `m` + machine digest, `u` + user digest.
pub(crate) fn hold_party(tag: u8, digest: &[u8; MACHINE_LEN]) -> [u8; MACHINE_LEN + 1] {
    let mut out = [tag; MACHINE_LEN + 1];
    out[1..].copy_from_slice(digest);
    out
}

/// A seat's kind as `rebuild.lua` takes it.
pub(crate) fn kind(kind: SeatKind) -> &'static str {
    match kind {
        SeatKind::Held => "H",
        SeatKind::Borrowed => "B",
        SeatKind::Lingering => "L",
    }
}

fn sha256_prefix(text: &str) -> [u8; MACHINE_LEN] {
    let mut out = [0; MACHINE_LEN];
    out.copy_from_slice(&digest(&SHA256, text.as_bytes()).as_ref()[..MACHINE_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_id_round_trips_through_its_raw_bytes() {
        let id = SessionId::new();
        assert_eq!(session_from(&session(id)), Some(id));
        assert_eq!(session_from(b"too short"), None);
    }

    #[test]
    fn a_machine_is_the_start_of_the_sha256_of_its_hardware_id() {
        let hw = HardwareId::parse("abc").unwrap();
        // SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 ...
        assert_eq!(
            machine(&hw),
            [
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde
            ]
        );
        assert_ne!(machine(&HardwareId::parse("abd").unwrap()), machine(&hw));
    }

    #[test]
    fn a_person_is_the_start_of_the_sha256_of_their_reference() {
        // The same text digests alike, whether it names a machine or a person: the `m` and `u`
        // of the hold-off's party keep them apart.
        let person = user(&UserRef("abc".into()));
        assert_eq!(person, machine(&HardwareId::parse("abc").unwrap()));
        assert_eq!(hold_party(b'u', &person)[0], b'u');
        assert_eq!(&hold_party(b'm', &person)[1..], &person[..]);
    }
}
