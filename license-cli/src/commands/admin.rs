//! Admin commands: tenants (operator), sessions, API keys, usage and the audit log. Licenses
//! have their own module.

use chrono::NaiveDate;
use serde_json::json;

use crate::api::{ApiKey, CreateApiKey, CreatedApiKey, Session};
use crate::cli::{
    ApiKeyCommand, AuditArgs, OutputFormat, QueueCommand, ScopeArg, SessionCommand,
    SigningKeyCommand, TenantCommand, UsageArgs,
};
use crate::client::{Client, Eviction, Sessions};
use crate::config::Connection;
use crate::error::{Error, Result};
use crate::output::{Fields, Table, emit, list, opt, opt_time, time};

/// `license tenant …`.
pub async fn tenant(
    connection: &Connection,
    command: TenantCommand,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    match command {
        TenantCommand::Create { name } => {
            let created = client.create_tenant(&name).await?;
            emit(format, &created, |c| {
                let mut fields = Fields::new();
                fields
                    .add("tenant", &c.tenant.id)
                    .add("name", &c.tenant.name)
                    .add("created", time(&c.tenant.created_at));
                format!(
                    "{}\nFirst admin API key (the secret is shown this once; store it now):\n{}",
                    fields.render(),
                    key_fields(&c.admin_api_key)
                )
            })?;
        }
        TenantCommand::List => {
            let tenants = client.list_tenants().await?;
            emit(format, &tenants, |tenants| {
                let mut table = Table::new(["ID", "NAME", "CREATED"]);
                for t in tenants {
                    table.row([t.id.clone(), t.name.clone(), time(&t.created_at)]);
                }
                table.render()
            })?;
        }
    }
    Ok(0)
}

/// `license session …`.
pub async fn session(
    connection: &Connection,
    command: SessionCommand,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    match command {
        SessionCommand::List(args) => {
            let sessions = client
                .list_sessions(Sessions::Live, &args.id, args.page_size)
                .await?;
            emit(format, &sessions, |sessions| sessions_table(sessions))?;
        }
        SessionCommand::Borrowed(args) => {
            let sessions = client
                .list_sessions(Sessions::Borrowed, &args.id, args.page_size)
                .await?;
            emit(format, &sessions, |sessions| sessions_table(sessions))?;
        }
        SessionCommand::Release(args) => {
            let eviction = Eviction {
                hold_off_seconds: args.hold_off,
                reason: args.reason,
                force: args.force,
            };
            let session = client.force_release(&args.id, &eviction).await?;
            emit(format, &session, session_fields)?;
        }
    }
    Ok(0)
}

fn sessions_table(sessions: &[Session]) -> String {
    let mut table = Table::new([
        "ID",
        "HARDWARE ID",
        "USER",
        "HOLDER",
        "KIND",
        "ACQUIRED",
        "LAST HEARTBEAT",
        "EXPIRES",
    ]);
    for s in sessions {
        table.row([
            s.id.clone(),
            s.hardware_id.clone(),
            opt(s.user_email.as_deref()),
            opt(s.holder.as_deref()),
            kind(s),
            time(&s.acquired_at),
            time(&s.last_heartbeat_at),
            time(&s.expires_at),
        ]);
    }
    table.render()
}

/// `borrowed`, `overdraft`, both, or `-`.
fn kind(s: &Session) -> String {
    let kinds: Vec<&str> = [(s.borrowed, "borrowed"), (s.overdraft, "overdraft")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
    if kinds.is_empty() {
        "-".into()
    } else {
        kinds.join(", ")
    }
}

fn session_fields(s: &Session) -> String {
    let mut fields = Fields::new();
    fields
        .add("id", &s.id)
        .add("license", &s.license_id)
        .add("hardware id", &s.hardware_id)
        .add("user", opt(s.user_email.as_deref()))
        .add("holder", opt(s.holder.as_deref()))
        .add("acquired", time(&s.acquired_at))
        .add("last heartbeat", time(&s.last_heartbeat_at))
        .add("kind", kind(s))
        .add("ended", opt_time(s.ended_at.as_ref()))
        .add("end reason", opt(s.end_reason.as_deref()));
    if let Some(eviction) = &s.eviction {
        fields
            .add("eviction reason", &eviction.reason)
            .add("held off until", opt_time(eviction.hold_until.as_ref()));
    }
    if let Some(until) = &s.linger_until {
        fields.add("lingers until", time(until));
    }
    fields.render()
}

/// `license api-key …`.
/// `license signing-key …`.
pub async fn signing_key(
    connection: &Connection,
    command: SigningKeyCommand,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    match command {
        SigningKeyCommand::Rotate { revoke_previous } => {
            let key = client.rotate_signing_key(revoke_previous).await?;
            emit(format, &key, |k| {
                let mut fields = Fields::new();
                fields
                    .add("kid", &k.kid)
                    .add("generation", k.generation.to_string())
                    .add("algorithm", &k.alg)
                    .add("signs from", time(&k.activates_at))
                    .add("certificate expires", time(&k.expires_at));
                let note = if revoke_previous {
                    "earlier keys revoked; other replicas switch within signer.tenant_key_refresh_seconds"
                } else {
                    "earlier keys stay published until their certificates expire"
                };
                format!("{}\n{note}", fields.render())
            })?;
        }
    }
    Ok(0)
}

pub async fn api_key(
    connection: &Connection,
    command: ApiKeyCommand,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    match command {
        ApiKeyCommand::Create { name, scopes } => {
            let mut names: Vec<&'static str> = scopes
                .iter()
                .map(|s| match s {
                    ScopeArg::Client => "client",
                    ScopeArg::Admin => "admin",
                })
                .collect();
            names.sort_unstable();
            names.dedup();
            let created = client
                .create_api_key(&CreateApiKey {
                    name,
                    scopes: names,
                })
                .await?;
            emit(format, &created, |c| {
                format!(
                    "API key created (the secret is shown this once; store it now):\n{}",
                    key_fields(c)
                )
            })?;
        }
        ApiKeyCommand::List => {
            let keys = client.list_api_keys().await?;
            emit(format, &keys, |keys| keys_table(keys))?;
        }
        ApiKeyCommand::Revoke { id } => {
            client.revoke_api_key(&id).await?;
            emit(format, &json!({ "id": id, "revoked": true }), |_| {
                format!("API key {id} revoked")
            })?;
        }
    }
    Ok(0)
}

fn key_fields(c: &CreatedApiKey) -> String {
    let mut fields = Fields::new();
    fields
        .add("  id", &c.key.id)
        .add("  name", &c.key.name)
        .add("  scopes", list(&c.key.scopes))
        .add("  secret", &c.secret);
    fields.render()
}

fn keys_table(keys: &[ApiKey]) -> String {
    let mut table = Table::new([
        "ID",
        "NAME",
        "PREFIX",
        "SCOPES",
        "CREATED",
        "LAST USED",
        "REVOKED",
    ]);
    for k in keys {
        table.row([
            k.id.clone(),
            k.name.clone(),
            k.prefix.clone(),
            list(&k.scopes),
            time(&k.created_at),
            opt_time(k.last_used_at.as_ref()),
            opt_time(k.revoked_at.as_ref()),
        ]);
    }
    table.render()
}

/// `Err(Usage)` unless each day given is `YYYY-MM-DD`.
pub fn check_days(days: &[&Option<String>]) -> Result<()> {
    for day in days.iter().copied().flatten() {
        if NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err() {
            return Err(Error::Usage(format!("invalid day {day:?}: use YYYY-MM-DD")));
        }
    }
    Ok(())
}

/// `license queue …`.
pub async fn queue(
    connection: &Connection,
    command: QueueCommand,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    match command {
        QueueCommand::List { id } => {
            let listing = client.queue(&id).await?;
            emit(format, &listing, |l| {
                if l.waiting.is_empty() {
                    return "nobody waits\n".to_owned();
                }
                let mut table = Table::new([
                    "POSITION",
                    "TICKET",
                    "HARDWARE ID",
                    "PRIORITY",
                    "WAIT UNTIL",
                ]);
                for w in &l.waiting {
                    table.row([
                        w.position.to_string(),
                        w.queue_ticket.clone(),
                        w.hardware_id.clone(),
                        w.priority.to_string(),
                        time(&w.wait_until),
                    ]);
                }
                table.render()
            })?;
        }
    }
    Ok(0)
}

/// `license usage LICENSE_ID [--from DAY] [--to DAY]`: live seats and daily figures.
pub async fn usage(
    connection: &Connection,
    id: &str,
    args: &UsageArgs,
    format: OutputFormat,
) -> Result<u8> {
    check_days(&[&args.from, &args.to])?;
    let client = Client::new(connection)?;
    let usage = client
        .usage(id, args.from.as_deref(), args.to.as_deref())
        .await?;
    emit(format, &usage, |u| {
        let mut fields = Fields::new();
        fields
            .add("license", &u.license_id)
            .add("live seats", u.live_seats.to_string());
        let mut text = fields.render();
        text.push('\n');
        if u.days.is_empty() {
            text.push_str("no activity in the period\n");
        } else {
            let mut table = Table::new([
                "DAY",
                "PEAK SEATS",
                "DENIALS",
                "OVERDRAFT PEAK",
                "OVERDRAFT SEAT-MINUTES",
            ]);
            for d in &u.days {
                table.row([
                    d.day.to_string(),
                    d.peak_seats.to_string(),
                    d.denials.to_string(),
                    d.overdraft_peak.to_string(),
                    d.overdraft_seat_minutes.to_string(),
                ]);
            }
            text.push_str(&table.render());
        }
        text
    })?;
    Ok(0)
}

/// `license audit`.
pub async fn audit(connection: &Connection, args: AuditArgs, format: OutputFormat) -> Result<u8> {
    let client = Client::new(connection)?;
    let events = client.audit_events(args.limit).await?;
    emit(format, &events, |events| {
        let mut table = Table::new(["AT", "ACTOR", "ACTION", "TARGET"]);
        for e in events {
            table.row([
                time(&e.at),
                e.actor.clone(),
                e.action.clone(),
                e.target.clone(),
            ]);
        }
        table.render()
    })?;
    Ok(0)
}
