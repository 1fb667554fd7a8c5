//! Tenant signing keys: every tenant's leases are signed by its own short-lived key, which the
//! root key (Cloud KMS in production, the local key of the data directory on the embedded
//! default) certifies once per rotation period. Leases are signed in-process, so no lease
//! costs a call to the root. ADR 0019 (`docs/adr/0019-tenant-signing-keys.md`) has the design.

/// The stored form of a tenant key.
pub mod record;
/// The `KeyWrapper` port (private keys at rest) and the local AES-256-GCM wrapper.
pub mod wrap;

pub use record::TenantKey;
pub use wrap::{KeyWrapper, LocalKeyWrapper};
