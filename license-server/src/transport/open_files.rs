//! Every connection is an open file. Rust does not raise the soft open-files limit as Go's
//! runtime does, and a container's is often 1024, so `accept` (and the store's and the
//! ledger's sockets) would fail long before `server.max_connections`. Kubernetes has no
//! setting for it: the process raises its own, up to the hard limit.

use tracing::{debug, warn};

/// Open files kept for all but client connections: store and ledger pools, data files, logs.
pub const RESERVED: u64 = 256;

/// Raises the soft open-files limit to the hard one, and warns if `max_connections` plus
/// [`RESERVED`] still do not fit. Returns the soft limit in force (`None` where unknown).
pub fn fit(max_connections: u32) -> Option<u64> {
    let limit = raise()?;
    let needed = u64::from(max_connections) + RESERVED;
    if limit < needed {
        warn!(
            open_files = limit,
            max_connections,
            "the open-files limit is below server.max_connections + {RESERVED}: connections past it cannot be accepted; raise the limit (ulimit -n) or lower server.max_connections (LICENSE_SERVER__MAX_CONNECTIONS)"
        );
    } else {
        debug!(open_files = limit, max_connections, "open-files limit");
    }
    Some(limit)
}

#[cfg(unix)]
fn raise() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return Some(hard);
    }
    Some(soft)
}

#[cfg(not(unix))]
fn raise() -> Option<u64> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use nix::sys::resource::{Resource, getrlimit};

    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_limit() {
        let in_force = fit(10_000).unwrap();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(in_force, soft);
        assert_eq!(
            soft, hard,
            "nothing stops an unprivileged raise to the hard limit"
        );
    }
}
