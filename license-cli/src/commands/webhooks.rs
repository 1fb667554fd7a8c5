//! `license webhooks …`: a tenant's webhook endpoints (ADR 0032) — create (the signing secret
//! is shown once), list, show, update, delete, secret rotation, the delivery log, redelivery.

use serde_json::{Map, Value, json};

use crate::api::{Webhook, WebhookDelivery};
use crate::cli::{OutputFormat, WebhooksCommand};
use crate::client::Client;
use crate::config::Connection;
use crate::error::Result;
use crate::output::{Fields, Table, emit, list, opt, opt_time, time};

/// Runs a `webhooks` subcommand.
pub async fn run(
    connection: &Connection,
    command: WebhooksCommand,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    match command {
        WebhooksCommand::Create {
            url,
            events,
            description,
        } => {
            let body = json!({"url": url, "event_types": events, "description": description});
            let created = client.create_webhook(&body).await?;
            emit(format, &created, |c| {
                let mut fields = fields(&c.webhook);
                fields.add("secret", &c.secret);
                format!(
                    "Webhook created (the signing secret is shown this once; store it now):\n{}",
                    fields.render()
                )
            })?;
        }
        WebhooksCommand::List => {
            let hooks = client.list_webhooks().await?;
            emit(format, &hooks, |h| table(h))?;
        }
        WebhooksCommand::Show { id } => {
            let hook = client.get_webhook(&id).await?;
            emit(format, &hook, |h| fields(h).render())?;
        }
        WebhooksCommand::Update {
            id,
            url,
            events,
            enabled,
            description,
        } => {
            let mut change = Map::new();
            if let Some(url) = url {
                change.insert("url".into(), json!(url));
            }
            if let Some(events) = events {
                // `all` (or nothing) subscribes to every type.
                let events: Vec<String> = events.into_iter().filter(|e| e != "all").collect();
                change.insert("event_types".into(), json!(events));
            }
            if let Some(enabled) = enabled {
                change.insert("enabled".into(), json!(enabled));
            }
            if let Some(description) = description {
                change.insert("description".into(), json!(description));
            }
            let hook = client.update_webhook(&id, &Value::Object(change)).await?;
            emit(format, &hook, |h| fields(h).render())?;
        }
        WebhooksCommand::Delete { id } => {
            client.delete_webhook(&id).await?;
            emit(format, &json!({"id": id, "deleted": true}), |_| {
                format!("webhook {id} deleted")
            })?;
        }
        WebhooksCommand::Deliveries { id, limit } => {
            let rows = client.webhook_deliveries(&id, limit).await?;
            emit(format, &rows, |r| deliveries(r))?;
        }
        WebhooksCommand::RotateSecret { id } => {
            let rotated = client.rotate_webhook_secret(&id).await?;
            emit(format, &rotated, |r| {
                let mut fields = fields(&r.webhook);
                fields.add("secret", &r.secret);
                fields.add(
                    "old secret signs until",
                    opt(r.previous_secret_until.as_deref()),
                );
                format!(
                    "Secret rotated (the new secret is shown this once; store it now; the old \
                     one signs too until the time below):\n{}",
                    fields.render()
                )
            })?;
        }
        WebhooksCommand::Redeliver { id, from_seq } => {
            client.redeliver_webhook(&id, from_seq).await?;
            emit(
                format,
                &json!({"id": id, "from_seq": from_seq, "redelivering": true}),
                |_| format!("webhook {id}: the log is sent again from entry {from_seq}"),
            )?;
        }
    }
    Ok(0)
}

fn fields(h: &Webhook) -> Fields {
    let mut fields = Fields::new();
    fields
        .add("id", &h.id)
        .add("url", &h.url)
        .add("events", types(&h.event_types))
        .add("enabled", h.enabled.to_string())
        .add("description", opt(Some(&h.description)))
        .add("created", time(&h.created_at))
        .add("cursor", h.cursor.to_string())
        .add("attempts", h.attempts.to_string())
        .add("failing since", opt_time(h.failing_since.as_ref()))
        .add("next attempt", opt_time(h.next_attempt_at.as_ref()))
        .add("disabled", opt(h.disabled_reason.as_deref()));
    fields
}

fn types(t: &[String]) -> String {
    if t.is_empty() { "all".into() } else { list(t) }
}

fn table(hooks: &[Webhook]) -> String {
    let mut table = Table::new(["ID", "URL", "EVENTS", "ENABLED", "CURSOR", "ATTEMPTS"]);
    for h in hooks {
        table.row([
            h.id.clone(),
            h.url.clone(),
            types(&h.event_types),
            h.enabled.to_string(),
            h.cursor.to_string(),
            h.attempts.to_string(),
        ]);
    }
    table.render()
}

fn deliveries(rows: &[WebhookDelivery]) -> String {
    let mut table = Table::new(["AT", "SEQ", "WEBHOOK-ID", "OK", "STATUS", "MS", "ERROR"]);
    for d in rows {
        table.row([
            time(&d.attempted_at),
            d.seq.to_string(),
            d.webhook_id.clone(),
            d.ok.to_string(),
            d.status_code.map_or_else(|| "-".into(), |s| s.to_string()),
            d.duration_ms.to_string(),
            opt(d.error.as_deref()),
        ]);
    }
    table.render()
}
