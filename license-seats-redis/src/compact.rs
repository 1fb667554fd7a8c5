//! Sessions and machines in the compact forms the scripts store: a session id as its 16 raw
//! bytes (not 36 characters of text), a machine as a 12-byte digest of its hardware id.
//!
//! The digest is the first 96 bits of SHA-256. Two machines of one license whose digests
//! collide would share a seat; among a million machines on one license the chance that any two
//! collide is about n² / 2⁹⁷ ≈ 6 × 10⁻¹⁸, and making a hardware id collide with a given one
//! takes about 2⁹⁶ hashes. (A client that wants two machines to share a seat can simply report
//! one hardware id twice: collisions give it nothing new.)

use aws_lc_rs::digest::{SHA256, digest};
use license_core::{HardwareId, SessionId};
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
    let mut out = [0; MACHINE_LEN];
    out.copy_from_slice(&digest(&SHA256, hardware_id.as_str().as_bytes()).as_ref()[..MACHINE_LEN]);
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
}
