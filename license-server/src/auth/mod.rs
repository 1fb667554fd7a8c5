//! Who is calling: the bearer credentials of the client and admin routes, checked once per
//! request by a poem-openapi `SecurityScheme`.
//!
//! - Client routes: a tenant API key with the `client` scope (`lk_<tenant>_<secret>`), or an
//!   OIDC ID token whose tenant claim names the tenant.
//! - Admin routes: a tenant API key with the `admin` scope, the operator credential, or (when
//!   `auth.oidc.admin_claim` is set) an ID token whose admin claim holds an admin value: its
//!   user administers the tenant in the tenant claim, and never gets the operator's rights.
//!   The operator is no tenant: it names the tenant it acts on in the `X-Tenant-Id` header, read
//!   once by the admin check; `TenantAdminAuth` also declares it in the OpenAPI document on
//!   the routes that act on a tenant.
//!
//! Every failure is the same 401, whatever check failed. A valid credential on the wrong kind
//! of route is 403. A check that cannot be made now is 503 with `Retry-After: 1`: the store
//! or the identity provider did not answer, or this replica refuses more store lookups of API
//! keys it has not cached (`auth.miss_lookups_per_second`; see `AdminService`'s key cache).
//!
//! Once identified, a credential spends its request budget and is refused with 429 while it
//! is blocked for failures (`crate::limits`).
//!
//! Verified credentials are cached in process (`auth.cache_seconds`, `auth.cache_capacity`):
//! API-key records by `AdminService`, accepted ID tokens by `oidc::OidcVerifier`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use license_core::{Actor, AdminService, ApiKeyId, ApiKeySecret, Error, Scope, Store, TenantId};
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Request, RequestBody};
use poem_openapi::auth::Bearer;
use poem_openapi::registry::{MetaParamIn, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};
use tracing::{debug, warn};

use crate::api::error::ApiError;
use crate::config::Secret;
use crate::limits::Credential;
use crate::state::AppState;

/// ID tokens from an OpenID Connect provider.
pub mod oidc;
/// The operator's bootstrap credential.
pub mod operator;

/// The header in which the operator names the tenant it acts on.
pub const TENANT_HEADER: &str = "X-Tenant-Id";

/// A caller of the client routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientPrincipal {
    /// The tenant whose licenses it may use.
    pub tenant: TenantId,
    /// Who it is, for the audit log.
    pub actor: Actor,
}

/// A caller of the admin routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminPrincipal {
    /// The server operator, acting on the tenant named in `X-Tenant-Id` (if any).
    Operator {
        /// The tenant from the header.
        tenant: Option<TenantId>,
    },
    /// A tenant API key with the admin scope.
    Tenant {
        /// The key's tenant.
        tenant: TenantId,
        /// The key.
        key: ApiKeyId,
    },
    /// A user signed in at the identity provider whose ID token makes them an administrator
    /// of its tenant (`auth.oidc.admin_claim`). Like a tenant key, never the operator.
    User {
        /// The tenant in the token's tenant claim.
        tenant: TenantId,
        /// The user (`sub`), named in the audit log as `user:<sub>`.
        subject: String,
    },
}

impl AdminPrincipal {
    /// Who it is, for the audit log.
    pub fn actor(&self) -> Actor {
        match self {
            AdminPrincipal::Operator { .. } => Actor::Operator,
            AdminPrincipal::Tenant { key, .. } => Actor::ApiKey(*key),
            AdminPrincipal::User { subject, .. } => Actor::User(subject.clone()),
        }
    }

    /// The tenant the call acts on.
    pub fn tenant(&self) -> Result<TenantId, ApiError> {
        match self {
            AdminPrincipal::Tenant { tenant, .. } | AdminPrincipal::User { tenant, .. } => {
                Ok(*tenant)
            }
            AdminPrincipal::Operator { tenant: Some(t) } => Ok(*t),
            AdminPrincipal::Operator { tenant: None } => Err(ApiError::invalid(
                TENANT_HEADER,
                "the operator names the tenant to act on in the X-Tenant-Id header",
            )),
        }
    }

    /// Refuses anyone but the operator.
    pub fn require_operator(&self) -> Result<(), ApiError> {
        match self {
            AdminPrincipal::Operator { .. } => Ok(()),
            AdminPrincipal::Tenant { .. } | AdminPrincipal::User { .. } => {
                Err(ApiError::forbidden("only the operator may call this route"))
            }
        }
    }
}

/// Seconds a client is told to wait after a 503 of the credential check. The miss limiter's
/// budgets refill at least one lookup within a second.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// Lets one warning through a second, so a flood of checks that cannot be made (made-up keys
/// over the lookup limit, say) is not also a flood of log lines; the metrics count them all.
#[derive(Debug)]
struct OncePerSecond {
    origin: Instant,
    next_ms: AtomicU64,
}

impl OncePerSecond {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            next_ms: AtomicU64::new(0),
        }
    }

    fn due(&self) -> bool {
        let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_ms.load(Ordering::Relaxed);
        now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now.saturating_add(1000),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

/// Checks credentials against the API keys, the operator token and the OIDC provider.
#[derive(Debug)]
pub struct Authenticator {
    admin: Arc<AdminService>,
    store: Arc<dyn Store>,
    /// SHA-256 of the operator token (`None`: no operator credential).
    operator_digest: Option<[u8; 32]>,
    oidc: Option<oidc::OidcVerifier>,
    unavailable_log: OncePerSecond,
}

impl Authenticator {
    /// Builds the authenticator.
    pub fn new(
        admin: Arc<AdminService>,
        store: Arc<dyn Store>,
        operator_token: Secret,
        oidc: Option<oidc::OidcVerifier>,
    ) -> Self {
        Self {
            admin,
            store,
            operator_digest: (!operator_token.is_empty())
                .then(|| sha256(operator_token.expose().as_bytes())),
            oidc,
            unavailable_log: OncePerSecond::new(),
        }
    }

    /// The ID-token cache's counters, when OIDC is on.
    pub fn oidc_stats(&self) -> Option<Arc<oidc::OidcStats>> {
        self.oidc.as_ref().map(oidc::OidcVerifier::stats)
    }

    /// A caller of the client routes.
    pub async fn client(&self, credential: &str) -> Result<ClientPrincipal, ApiError> {
        if credential.starts_with("lk_") {
            let key = self
                .api_key(credential, Scope::Client, Scope::Admin)
                .await?;
            return Ok(ClientPrincipal {
                tenant: key.tenant_id,
                actor: Actor::ApiKey(key.id),
            });
        }
        if self.is_operator(credential) {
            return Err(ApiError::forbidden(
                "the operator credential cannot use the client routes",
            ));
        }
        let Some(oidc) = &self.oidc else {
            return Err(ApiError::unauthenticated());
        };
        let identity = id_token(oidc, credential).await?;
        Ok(ClientPrincipal {
            tenant: identity.tenant,
            actor: Actor::User(identity.subject),
        })
    }

    /// The console's single sign-on settings, when `auth.oidc.console_client_id` is set.
    pub fn console_sign_in(&self) -> Option<&crate::config::OidcConfig> {
        self.oidc
            .as_ref()
            .map(oidc::OidcVerifier::config)
            .filter(|c| c.console_sign_in())
    }

    /// A caller of the admin routes; `named` is the tenant from `X-Tenant-Id`, if sent.
    pub async fn admin(
        &self,
        credential: &str,
        named: Option<TenantId>,
    ) -> Result<AdminPrincipal, ApiError> {
        if credential.starts_with("lk_") {
            let key = self
                .api_key(credential, Scope::Admin, Scope::Client)
                .await?;
            // A key acts for its own tenant only; naming another answers like a missing one.
            if named.is_some_and(|t| t != key.tenant_id) {
                return Err(Error::NotFound(license_core::Resource::Tenant).into());
            }
            return Ok(AdminPrincipal::Tenant {
                tenant: key.tenant_id,
                key: key.id,
            });
        }
        if self.is_operator(credential) {
            if let Some(tenant) = named {
                self.store.get_tenant(tenant).await?;
            }
            return Ok(AdminPrincipal::Operator { tenant: named });
        }
        // ID tokens reach the admin routes only where some may grant admin rights; elsewhere
        // they stay the client routes' credential (401 here, as any unknown credential).
        let Some(oidc) = self.oidc.as_ref().filter(|o| o.grants_admin()) else {
            return Err(ApiError::unauthenticated());
        };
        let identity = id_token(oidc, credential).await?;
        if !identity.admin {
            return Err(ApiError::forbidden(
                "this ID token grants no admin rights (its admin claim holds no admin value)",
            ));
        }
        // Like a tenant key: its own tenant only, and naming another answers like a missing one.
        if named.is_some_and(|t| t != identity.tenant) {
            return Err(Error::NotFound(license_core::Resource::Tenant).into());
        }
        Ok(AdminPrincipal::User {
            tenant: identity.tenant,
            subject: identity.subject,
        })
    }

    /// The API key `credential` is, if it has `scope`. A key with only `other` is a 403.
    async fn api_key(
        &self,
        credential: &str,
        scope: Scope,
        other: Scope,
    ) -> Result<license_core::ApiKey, ApiError> {
        // A malformed key (prefix, tenant, length, alphabet) is refused here, before any
        // cache or store.
        let secret = ApiKeySecret::parse(credential).map_err(|_| ApiError::unauthenticated())?;
        // One check, whatever the scopes: an unknown key costs at most one store lookup.
        match self.admin.identify_api_key(&secret).await {
            Ok(key) if key.allows(scope) => Ok(key),
            Ok(key) if key.allows(other) => Err(ApiError::forbidden(match scope {
                Scope::Admin => "this API key lacks the admin scope",
                Scope::Client => "this API key lacks the client scope",
            })),
            Ok(_) | Err(Error::NotFound(_)) => Err(ApiError::unauthenticated()),
            Err(e) => Err(self.cannot_check(e)),
        }
    }

    /// A key check that failed for another reason than the key: 503 (logged at most once a
    /// second) when the store is down or lookups are over their limit, else as mapped.
    fn cannot_check(&self, e: Error) -> ApiError {
        let Error::Unavailable { dependency, reason } = &e else {
            return e.into();
        };
        if self.unavailable_log.due() {
            warn!(%dependency, reason, "API-key check unavailable (logged at most once a second)");
        }
        ApiError::retry_later(&dependency.to_string())
    }

    /// Whether `credential` is the operator token. Digests of equal length are compared in
    /// constant time, so neither the token's content nor its length shows in the timing (a
    /// direct comparison returns at once on a length mismatch).
    fn is_operator(&self, credential: &str) -> bool {
        self.operator_digest.is_some_and(|expected| {
            aws_lc_rs::constant_time::verify_slices_are_equal(
                &sha256(credential.as_bytes()),
                &expected,
            )
            .is_ok()
        })
    }
}

/// The identity in a verified ID token: 401 when refused (the reason logged at debug), 503
/// when the provider's keys cannot be had.
async fn id_token(
    oidc: &oidc::OidcVerifier,
    credential: &str,
) -> Result<oidc::OidcIdentity, ApiError> {
    oidc.verify(credential).await.map_err(|e| match e {
        oidc::OidcError::Rejected(reason) => {
            debug!(reason, "ID token rejected");
            ApiError::unauthenticated()
        }
        e @ oidc::OidcError::Unavailable(_) => ApiError::unavailable("identity_provider", &e),
    })
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A failed check as the response it renders to; a 503 says when to retry.
fn refusal(e: ApiError) -> poem::Error {
    let retry = e.status == StatusCode::SERVICE_UNAVAILABLE;
    let mut response = e.into_response();
    if retry {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    poem::Error::from_response(response)
}

fn state(req: &Request) -> poem::Result<&Arc<AppState>> {
    req.data::<Arc<AppState>>()
        .ok_or_else(|| poem::Error::from_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR))
}

/// `Authorization: Bearer <credential>` on the client routes: a tenant API key with the
/// `client` scope (`lk_<tenant>_<secret>`), or an OpenID Connect ID token (Google Identity
/// Platform) whose tenant claim names the tenant.
#[derive(SecurityScheme, Debug)]
#[oai(ty = "bearer", rename = "client", checker = "client_checker")]
pub struct ClientAuth(pub ClientPrincipal);

async fn client_checker(req: &Request, bearer: Bearer) -> poem::Result<ClientPrincipal> {
    let state = state(req)?;
    let principal = state.auth.client(&bearer.token).await.map_err(refusal)?;
    state
        .limits
        .admit_credential(req, Credential::from(&principal))?;
    Ok(principal)
}

/// `Authorization: Bearer <credential>` on the admin routes: a tenant API key with the `admin`
/// scope, or the operator credential. The operator acts on a tenant by naming it in the
/// `X-Tenant-Id` header; a tenant key acts on its own tenant only.
// (The doc comment above is the scheme's description in the OpenAPI document.) Routes that
// act on a tenant take `TenantAdminAuth`, which also documents the header; the operator-only
// routes take this.
#[derive(SecurityScheme, Debug)]
#[oai(ty = "bearer", rename = "admin", checker = "admin_checker")]
pub struct AdminAuth(pub AdminPrincipal);

async fn admin_checker(req: &Request, bearer: Bearer) -> poem::Result<AdminPrincipal> {
    let state = state(req)?;
    // Parsed before the credential is checked: a malformed header is a 400 whoever calls.
    let named = tenant_header(req).map_err(refusal)?;
    let principal = state
        .auth
        .admin(&bearer.token, named)
        .await
        .map_err(refusal)?;
    state
        .limits
        .admit_credential(req, Credential::from(&principal))?;
    Ok(principal)
}

/// The tenant named in `X-Tenant-Id`: `None` without the header, 400 naming it unless it is
/// a tenant id. The one place the header is read.
fn tenant_header(req: &Request) -> Result<Option<TenantId>, ApiError> {
    let invalid = || ApiError::invalid(TENANT_HEADER, "X-Tenant-Id must be a tenant id (UUID)");
    req.headers()
        .get(TENANT_HEADER)
        .map(|value| {
            let text = value.to_str().map_err(|_| invalid())?;
            text.trim().parse::<TenantId>().map_err(|_| invalid())
        })
        .transpose()
}

/// [`AdminAuth`] on the routes that act on one tenant: the same check, which also declares
/// the `X-Tenant-Id` header in the OpenAPI document, so the header the check reads is the one
/// the document shows on exactly these routes (the operator-only routes take `AdminAuth`).
///
/// poem-openapi names and describes a parameter from the handler's argument, so it reads:
///
/// ```ignore
/// /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
/// #[oai(name = "X-Tenant-Id")]
/// auth: TenantAdminAuth,
/// ```
#[derive(Debug)]
pub struct TenantAdminAuth(pub AdminPrincipal);

impl<'a> ApiExtractor<'a> for TenantAdminAuth {
    const TYPES: &'static [ApiExtractorType] = &[
        ApiExtractorType::SecurityScheme,
        ApiExtractorType::Parameter,
    ];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <AdminAuth as ApiExtractor<'a>>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        <AdminAuth as ApiExtractor<'a>>::security_schemes()
    }

    fn has_security_fallback() -> bool {
        <AdminAuth as ApiExtractor<'a>>::has_security_fallback()
    }

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Header)
    }

    /// A plain string, not `uuid`: openapi-python-client sends a `uuid` header unconverted.
    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(<Option<String> as Type>::schema_ref())
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        param_opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        // The document must name the header the check reads (the spec test counts them).
        debug_assert_eq!(param_opts.name, TENANT_HEADER);
        let AdminAuth(principal) =
            AdminAuth::from_request(request, body, ExtractParamOptions::default()).await?;
        Ok(Self(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(header: Option<&str>) -> Request {
        let builder = Request::builder();
        match header {
            Some(value) => builder.header(TENANT_HEADER, value).finish(),
            None => builder.finish(),
        }
    }

    fn authenticator(operator_token: &str) -> Authenticator {
        use license_core::SystemClock;
        use license_core::memory::MemoryStore;
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        let admin = Arc::new(AdminService::new(store.clone(), Arc::new(SystemClock)));
        Authenticator::new(admin, store, Secret::new(operator_token), None)
    }

    #[test]
    fn only_the_very_operator_token_is_the_operator() {
        let token = "op_0123456789abcdefghijklmnopqrstuvwxyz";
        let auth = authenticator(token);
        assert!(auth.is_operator(token));
        for wrong in [
            "",
            "op_",
            &token[..token.len() - 1],
            &format!("{token}x"),
            "op_0123456789abcdefghijklmnopqrstuvwxyZ",
        ] {
            assert!(!auth.is_operator(wrong), "{wrong:?}");
        }
        let none = authenticator("");
        assert!(
            !none.is_operator(""),
            "no operator credential: nothing matches"
        );
    }

    #[test]
    fn x_tenant_id_is_a_tenant_or_a_400_naming_the_header() {
        assert_eq!(tenant_header(&request(None)).unwrap(), None);
        let tenant = TenantId::new();
        let padded = format!(" {tenant} ");
        assert_eq!(
            tenant_header(&request(Some(&padded))).unwrap(),
            Some(tenant)
        );
        for bad in ["not-a-uuid", ""] {
            let e = tenant_header(&request(Some(bad))).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{bad}");
            assert_eq!(e.body.field.as_deref(), Some(TENANT_HEADER), "{bad}");
        }
    }
}
