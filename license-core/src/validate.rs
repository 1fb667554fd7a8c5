//! Validate: check a lease token online (signature, expiry, and that its session still holds
//! its seat). Clients verify offline with [`TokenVerifier`](crate::TokenVerifier); this is for
//! servers that want the live answer.

use crate::error::{Error, ErrorKind, Resource, Result};
use crate::ids::TenantId;
use crate::service::LicenseService;
use crate::token::LeaseClaims;

/// What validate can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::InvalidToken,
    ErrorKind::NotFound,
    ErrorKind::SessionExpired,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

impl LicenseService {
    /// Checks a lease token for `tenant`: signature, expiry, and that its session still holds
    /// its seat. A token of another tenant answers like a missing session.
    pub async fn validate(&self, tenant: TenantId, token: &str) -> Result<LeaseClaims> {
        let now = self.clock.now();
        let claims = self.verifier().verify(token, now)?;
        if claims.tid != tenant {
            return Err(Error::NotFound(Resource::Session));
        }
        let session = self.sessions.get_session(tenant, claims.sub).await?;
        if !session.is_live(now) {
            return Err(Error::SessionExpired);
        }
        Ok(claims)
    }
}
