//! The default hardware id: a stable fingerprint of this machine that does not reveal the raw
//! machine id (systemd asks applications to hash it with an application-specific key).

use aws_lc_rs::digest::{SHA256, digest};

use crate::error::{Error, Result};

/// Files holding the machine id, in order of preference.
const MACHINE_ID_FILES: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];
/// Files holding the host name, when there is no machine id.
const HOSTNAME_FILES: [&str; 2] = ["/proc/sys/kernel/hostname", "/etc/hostname"];

/// `m-` + SHA-256 of the machine id, else `h-` + SHA-256 of the host name (hex, 66 characters,
/// within the server's 128-character limit). Errors when neither can be read.
pub fn fingerprint() -> Result<String> {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    if let Some(id) = MACHINE_ID_FILES.iter().find_map(|p| read(p)) {
        return Ok(hashed("m", &id));
    }
    let host = HOSTNAME_FILES
        .iter()
        .find_map(|p| read(p))
        .or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .filter(|h| !h.trim().is_empty())
        })
        .or_else(|| {
            std::env::var("COMPUTERNAME")
                .ok()
                .filter(|h| !h.trim().is_empty())
        });
    match host {
        Some(host) => Ok(hashed("h", host.trim())),
        None => Err(Error::Usage(
            "cannot read a machine id or host name: pass --hardware-id".into(),
        )),
    }
}

/// The system host name as seat policies match it (`host_name` on acquire): the kernel's,
/// else `HOSTNAME` / `COMPUTERNAME`. `None` when there is none, or it is not a name the
/// server accepts (1–253 of `A–Z a–z 0–9 . - _`): the acquire then goes without one.
pub fn host_name() -> Option<String> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    HOSTNAME_FILES
        .iter()
        .find_map(|p| read(p))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 253
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        })
}

fn hashed(kind: &str, value: &str) -> String {
    let hash = digest(&SHA256, format!("license-cli:{value}").as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{kind}-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_is_stable_and_hides_the_input() {
        let a = hashed("m", "0123456789abcdef");
        assert_eq!(a, hashed("m", "0123456789abcdef"));
        assert_ne!(a, hashed("m", "0123456789abcdee"));
        assert!(!a.contains("0123456789abcdef"));
        assert_eq!(a.len(), 66);
    }

    #[test]
    fn this_machine_has_a_fingerprint() {
        let id = fingerprint().unwrap();
        assert_eq!(id, fingerprint().unwrap());
        assert!(id.starts_with("m-") || id.starts_with("h-"));
    }
}
