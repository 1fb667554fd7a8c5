//! `license login`: check a server URL and credential, then save them (mode 0600) so later
//! commands need no flags.

use std::path::Path;

use serde::Serialize;

use crate::cli::{ConnectionArgs, LoginArgs, OutputFormat};
use crate::client::{Client, ClientError};
use crate::config::{self, Connection, DEFAULT_SERVER, FileConfig};
use crate::error::{Error, Result};
use crate::output::{Fields, emit};

#[derive(Debug, Serialize)]
struct LoggedIn {
    server: String,
    /// `operator`, `api_key` or `unverified`.
    credential: &'static str,
    tenant: Option<String>,
    config_file: String,
}

/// Saves `--server`, the credential (`--token`, `--token-file` or `LICENSE_TOKEN`) and
/// `--tenant`, after checking them against the server unless `--no-verify`.
pub async fn run(args: &ConnectionArgs, login: LoginArgs, format: OutputFormat) -> Result<u8> {
    let token = match &login.token_file {
        Some(path) => Some(read_token(path)?),
        None => args.token.clone().filter(|t| !t.trim().is_empty()),
    };
    let Some(token) = token.map(|t| t.trim().to_owned()) else {
        return Err(Error::Usage(
            "pass the credential with --token, --token-file or LICENSE_TOKEN".into(),
        ));
    };
    let connection = Connection {
        server: args
            .server
            .clone()
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned())
            .trim()
            .trim_end_matches('/')
            .to_owned(),
        token: Some(token),
        tenant: args.tenant.clone(),
    };
    let credential = if login.no_verify {
        "unverified"
    } else {
        verify(&connection).await?
    };
    let path = config::config_path()?;
    config::save(
        &path,
        &FileConfig {
            server: Some(connection.server.clone()),
            token: connection.token.clone(),
            tenant: connection.tenant.clone(),
        },
    )?;
    let result = LoggedIn {
        server: connection.server,
        credential,
        tenant: connection.tenant,
        config_file: path.display().to_string(),
    };
    emit(format, &result, |r| {
        let mut fields = Fields::new();
        fields
            .add("server", &r.server)
            .add("credential", r.credential)
            .add("tenant", r.tenant.as_deref().unwrap_or("-"))
            .add("saved to", &r.config_file);
        fields.render()
    })?;
    Ok(0)
}

fn read_token(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io("cannot read the token file", path, e))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::Other(format!(
            "the token file {} is empty",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

/// Which kind of credential this is; a refused one is an error. The tenant listing answers
/// 200 to the operator and 403 to a valid tenant key; a bad credential gets 401.
async fn verify(connection: &Connection) -> Result<&'static str> {
    let client = Client::new(connection)?;
    client.health().await?;
    let kind = match client.list_tenants().await {
        Ok(_) => "operator",
        Err(ClientError::Api { status: 403, .. }) => "api_key",
        Err(e) => return Err(e.into()),
    };
    if connection.tenant.is_some() && kind == "operator" {
        // The server checks that the tenant in X-Tenant-Id exists.
        client.list_api_keys().await?;
    }
    Ok(kind)
}
