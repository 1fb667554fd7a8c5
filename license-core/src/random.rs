//! Randomness from the operating system's CSPRNG (through aws-lc-rs).

use crate::error::{Error, Result};

/// `N` random bytes.
pub(crate) fn bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out)
        .map_err(|_| Error::Internal("the system random number generator failed".into()))?;
    Ok(out)
}
