//! Tenant API keys for automation and the CLI. Shown once at creation; only a SHA-256 hash and a
//! short lookup prefix are stored.
//!
//! A key reads `lk_<tenant uuid, 32 hex>_<43 base64url characters>`: the tenant part keeps every
//! lookup tenant-scoped, the first 8 characters of the secret part are the lookup prefix, and the
//! 256 random bits make a plain SHA-256 hash safe (no password-style stretching needed).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::ids::{ApiKeyId, TenantId};

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Acquire, heartbeat and release seats.
    Client,
    /// Manage the tenant's licenses, sessions, keys and usage.
    Admin,
}

impl Scope {
    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Client => "client",
            Scope::Admin => "admin",
        }
    }

    /// Parses [`Scope::as_str`] output.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "client" => Ok(Scope::Client),
            "admin" => Ok(Scope::Admin),
            _ => Err(Error::invalid(
                "scopes",
                "each scope must be client or admin",
            )),
        }
    }
}

/// The stored record of an API key (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// The tenant it acts for.
    pub tenant_id: TenantId,
    /// A label chosen by its creator (1–128 characters, [readable](crate::text)).
    pub name: String,
    /// First 8 characters of the secret part: finds the record.
    pub prefix: String,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Longest name, in characters.
    pub const MAX_NAME_LEN: usize = 128;

    /// Whether the key authenticates requests needing `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.revoked_at.is_none() && self.scopes.contains(&scope)
    }

    /// Whether `presented` is this key (constant-time comparison of the hashes).
    pub fn matches(&self, presented: &ApiKeySecret) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            self.hash.as_bytes(),
            presented.hash().as_bytes(),
        )
        .is_ok()
    }
}

/// A whole API key as presented by a client. Its `Debug` never prints the secret.
///
/// ```
/// use license_core::{ApiKeySecret, TenantId};
/// let tenant = TenantId::new();
/// let secret = ApiKeySecret::generate(tenant).unwrap();
/// let parsed = ApiKeySecret::parse(secret.expose()).unwrap();
/// assert_eq!(parsed.tenant_id(), tenant);
/// assert_eq!(parsed.hash(), secret.hash());
/// assert!(ApiKeySecret::parse("lk_nope").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret {
    whole: String,
    tenant_id: TenantId,
}

impl ApiKeySecret {
    const PREFIX_LEN: usize = 8;

    /// A fresh random key for `tenant_id`.
    pub fn generate(tenant_id: TenantId) -> Result<Self> {
        let random = crate::random::bytes::<32>()?;
        let whole = format!(
            "lk_{}_{}",
            tenant_id.as_uuid().simple(),
            URL_SAFE_NO_PAD.encode(random)
        );
        Ok(Self { whole, tenant_id })
    }

    /// Parses a presented key (shape only; the store decides whether it exists).
    pub fn parse(presented: &str) -> Result<Self> {
        let bad = || Error::invalid("api_key", "is not a well-formed API key");
        let rest = presented.strip_prefix("lk_").ok_or_else(bad)?;
        let (tenant, secret) = rest.split_once('_').ok_or_else(bad)?;
        let tenant = Uuid::try_parse(tenant).map_err(|_| bad())?;
        if secret.len() != 43
            || !secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad());
        }
        Ok(Self {
            whole: presented.to_owned(),
            tenant_id: TenantId::from_uuid(tenant),
        })
    }

    /// The tenant the key claims to belong to.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// The lookup prefix (first characters of the random part).
    pub fn prefix(&self) -> &str {
        let start = self.whole.len() - 43;
        &self.whole[start..start + Self::PREFIX_LEN]
    }

    /// SHA-256 of the whole key, lower-case hex.
    pub fn hash(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.whole.as_bytes());
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key itself, to show once to its creator.
    pub fn expose(&self) -> &str {
        &self.whole
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret(tenant {}, ***)", self.tenant_id)
    }
}
