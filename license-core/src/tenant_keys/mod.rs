//! Tenant signing keys: every tenant's leases are signed by its own short-lived key, which the
//! root key (Cloud KMS in production, the local key of the data directory on the embedded
//! default) certifies once per rotation period. Leases are signed in-process, so no lease
//! costs a call to the root. ADR 0019 (`docs/adr/0019-tenant-signing-keys.md`) has the design.

/// Key certificates: the root's signed statement that a key signs for a tenant.
pub mod certificate;
/// The periodic step, an administrator's rotation, and health.
pub mod maintain;
/// What a tenant's JWKS endpoint serves, and checking it against the root.
pub mod published;
/// The stored form of a tenant key.
pub mod record;
/// A replica's keys for the tenants it signs for.
pub mod ring;
/// When keys are made, activate, retire and expire.
pub mod timeline;
/// The `KeyWrapper` port (private keys at rest) and the local AES-256-GCM wrapper.
pub mod wrap;

pub use certificate::{CERTIFICATE_TYPE, CertificateClaims, certify, check_certificate};
pub use maintain::MaintainOutcome;
pub use published::TenantJwks;
pub use record::TenantKey;
pub use ring::{TenantKeyStats, TenantKeys};
pub use timeline::TenantKeyConfig;
pub use wrap::{KeyWrapper, LocalKeyWrapper};
