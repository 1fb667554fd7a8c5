//! `license verify TOKEN --tenant ID [--license ID] [--jwks FILE|URL] [--root FILE|URL]`:
//! checks a lease token offline with license-core's `TokenVerifier` (signature with the
//! algorithm pinned by the key, type, issuer, audience and tenant, license, validity window)
//! and prints its claims. With `--root`, only tenant keys the root certified are trusted.

use std::io::Read as _;

use chrono::{DateTime, Utc};
use license_core::{Jwks, LeaseClaims, LicenseId, TenantId, TenantJwks, TokenVerifier};
use serde::Serialize;

use crate::cli::{ConnectionArgs, KeySourceArgs, OutputFormat, VerifyArgs};
use crate::client::{Client, parse_base_url};
use crate::config::{self, Connection};
use crate::error::{Error, Result};
use crate::output::{Fields, emit, list, time};

#[derive(Debug, Serialize)]
struct Verified {
    valid: bool,
    claims: LeaseClaims,
}

/// Verifies the token; an invalid one is [`Error::InvalidToken`] (exit code 4).
pub async fn run(
    args: VerifyArgs,
    connection: &ConnectionArgs,
    format: OutputFormat,
) -> Result<u8> {
    let token = if args.token == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::io("cannot read the token from", "stdin", e))?;
        text
    } else {
        args.token
    };
    let tenant: TenantId = args
        .tenant
        .parse()
        .map_err(|_| Error::Usage(format!("--tenant {:?} is not a tenant id", args.tenant)))?;
    let now = Utc::now();
    let keys = trusted_keys(tenant, &args.keys, connection, now).await?;
    let mut verifier = TokenVerifier::new(keys, args.keys.issuer, tenant);
    if let Some(license) = &args.license {
        let license: LicenseId = license
            .parse()
            .map_err(|_| Error::Usage(format!("--license {license:?} is not a license id")))?;
        verifier = verifier.for_license(license);
    }
    let claims = verifier
        .verify(token.trim(), now)
        .map_err(|e| Error::InvalidToken(e.to_string()))?;
    let verified = Verified {
        valid: true,
        claims,
    };
    emit(format, &verified, |v| {
        let c = &v.claims;
        let mut fields = Fields::new();
        fields
            .add("valid", "yes")
            .add("issuer", &c.iss)
            .add("session", c.sub.to_string())
            .add("tenant", c.tid.to_string())
            .add("license", c.lic.to_string())
            .add("hardware id", &c.hwid)
            .add("entitlements", list(&c.ent))
            .add("issued at", unix_time(c.iat))
            .add("not before", unix_time(c.nbf))
            .add("expires", unix_time(c.exp));
        fields.render()
    })?;
    Ok(0)
}

/// The keys `tenant`'s signatures are checked with: its published set (from `jwks`, else the
/// server's `/api/v1/tenants/{tenant}/jwks.json`), only the keys `root` certifies when given,
/// else as read (a set naming another tenant is refused).
pub(crate) async fn trusted_keys(
    tenant: TenantId,
    source: &KeySourceArgs,
    connection: &ConnectionArgs,
    now: DateTime<Utc>,
) -> Result<Jwks> {
    let (root, issuer) = (source.root.as_deref(), source.issuer.as_str());
    let jwks_source = match &source.jwks {
        Some(source) => source.to_owned(),
        None => format!(
            "{}/api/v1/tenants/{tenant}/jwks.json",
            config::resolve(connection)?.server
        ),
    };
    let published = load_json(&jwks_source).await?;
    match root {
        Some(root_source) => {
            let root: Jwks = key_set(load_json(root_source).await?, root_source)?;
            let published: TenantJwks = serde_json::from_value(published).map_err(|e| {
                Error::Other(format!(
                    "{jwks_source} is not a tenant's key set with certificates: {e}"
                ))
            })?;
            published
                .certified_keys(&root, issuer, tenant, now)
                .map_err(|e| Error::InvalidToken(e.to_string()))
        }
        None => {
            // A tenant's set names its tenant: one of another tenant is refused outright.
            if let Some(named) = published.get("tenant_id").and_then(|v| v.as_str())
                && named != tenant.to_string()
            {
                return Err(Error::InvalidToken(format!(
                    "{jwks_source} is the key set of tenant {named}, not of {tenant}"
                )));
            }
            key_set(published, &jwks_source)
        }
    }
}

fn key_set(value: serde_json::Value, source: &str) -> Result<Jwks> {
    serde_json::from_value(value).map_err(|e| {
        Error::Other(format!(
            "{source} is not a JWK set of lease-token keys: {e}"
        ))
    })
}

fn unix_time(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0).map_or_else(|| seconds.to_string(), |at| time(&at))
}

/// A JSON document from an http(s) URL or a file.
async fn load_json(source: &str) -> Result<serde_json::Value> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let url = parse_base_url(source)?;
        let connection = Connection {
            server: source.to_owned(),
            token: None,
            tenant: None,
        };
        Ok(Client::new(&connection)?.fetch_json_url(url).await?)
    } else {
        let text = std::fs::read_to_string(source)
            .map_err(|e| Error::io("cannot read the key set file", source, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Other(format!("{source} is not JSON: {e}")))
    }
}
