//! Validate: check a lease token online (signature, expiry, and that its session still holds
//! its seat). Clients verify offline with [`TokenVerifier`](crate::TokenVerifier); this is for
//! servers that want the live answer.

use crate::error::{Error, ErrorKind, Resource, Result};
use crate::ids::TenantId;
use crate::service::LicenseService;
use crate::token::{LeaseClaims, TokenError};

/// What validate can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::InvalidToken,
    ErrorKind::NotFound,
    ErrorKind::SessionExpired,
    ErrorKind::SessionEvicted,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

impl LicenseService {
    /// Checks a lease token for `tenant`: signature, expiry, and that its session still holds
    /// its seat (`session_evicted` when an administrator evicted it). A token of another
    /// tenant answers like a missing session.
    pub async fn validate(&self, tenant: TenantId, token: &str) -> Result<LeaseClaims> {
        let now = self.clock.now();
        let claims = match self.verifier(tenant).await?.verify(token, now) {
            Ok(claims) => claims,
            // Another tenant's token (signed by a key this tenant does not have, or naming
            // another audience) answers like a missing session: nothing about it leaks.
            Err(TokenError::WrongAudience(_) | TokenError::UnknownKey(_)) => {
                return Err(Error::NotFound(Resource::Session));
            }
            Err(e) => return Err(e.into()),
        };
        let session = self.sessions.get_session(tenant, claims.sub).await?;
        if session.ended_at.is_some() {
            return Err(crate::heartbeat::ended_error(&session));
        }
        if !session.is_live(now) {
            return Err(Error::SessionExpired);
        }
        Ok(claims)
    }
}
