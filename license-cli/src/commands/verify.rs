//! `license verify TOKEN --jwks FILE|URL`: checks a lease token offline with license-core's
//! `TokenVerifier` (signature with the algorithm pinned by the key, type, issuer, validity
//! window) and prints its claims.

use std::io::Read as _;

use chrono::{DateTime, Utc};
use license_core::{Jwks, LeaseClaims, TokenVerifier};
use serde::Serialize;

use crate::cli::{OutputFormat, VerifyArgs};
use crate::client::{Client, parse_base_url};
use crate::config::Connection;
use crate::error::{Error, Result};
use crate::output::{Fields, emit, list, time};

#[derive(Debug, Serialize)]
struct Verified {
    valid: bool,
    claims: LeaseClaims,
}

/// Verifies the token; an invalid one is [`Error::InvalidToken`] (exit code 4).
pub async fn run(args: VerifyArgs, format: OutputFormat) -> Result<u8> {
    let token = if args.token == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::io("cannot read the token from", "stdin", e))?;
        text
    } else {
        args.token
    };
    let jwks = load_jwks(&args.jwks).await?;
    let verifier = TokenVerifier::new(jwks, args.issuer);
    let claims = verifier
        .verify(token.trim(), Utc::now())
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

fn unix_time(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0).map_or_else(|| seconds.to_string(), |at| time(&at))
}

/// The key set from an http(s) URL or a file.
async fn load_jwks(source: &str) -> Result<Jwks> {
    let value = if source.starts_with("http://") || source.starts_with("https://") {
        let url = parse_base_url(source)?;
        let connection = Connection {
            server: source.to_owned(),
            token: None,
            tenant: None,
        };
        Client::new(&connection)?.fetch_json_url(url).await?
    } else {
        let text = std::fs::read_to_string(source)
            .map_err(|e| Error::io("cannot read the JWKS file", source, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Other(format!("{source} is not JSON: {e}")))?
    };
    serde_json::from_value(value).map_err(|e| {
        Error::Other(format!(
            "{source} is not a JWK set of lease-token keys: {e}"
        ))
    })
}
