//! Admin commands on licenses: create, list, show, update, suspend, reinstate, revoke.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use crate::api::{CreateLicense, License, SeatPolicy};
use crate::cli::{
    LicenseCommand, LicenseCreateArgs, LicenseListArgs, LicenseUpdateArgs, OutputFormat,
    PolicyCommand,
};
use crate::client::Client;
use crate::config::Connection;
use crate::error::{Error, Result};
use crate::output::{Fields, Table, emit, list, opt_time, print_json, print_text, time};
use crate::policy_text::options_text;

/// `license license …`.
pub async fn run(
    connection: &Connection,
    command: LicenseCommand,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    let license = match command {
        LicenseCommand::Create(args) => client.create_license(&new_license(args)?).await?,
        LicenseCommand::List(args) => return list_licenses(&client, args, format).await,
        LicenseCommand::Show(id) => client.get_license(&id.id).await?,
        LicenseCommand::Update(args) => {
            let change = license_change(&args)?;
            client.update_license(&args.id, &change).await?
        }
        LicenseCommand::Suspend(id) => client.set_license_status(&id.id, "suspend").await?,
        LicenseCommand::Reinstate(id) => client.set_license_status(&id.id, "reinstate").await?,
        LicenseCommand::Revoke(id) => client.set_license_status(&id.id, "revoke").await?,
        LicenseCommand::Policy(command) => return policy(&client, command, format).await,
    };
    emit(format, &license, license_fields)?;
    Ok(0)
}

fn new_license(args: LicenseCreateArgs) -> Result<CreateLicense> {
    Ok(CreateLicense {
        product: args.product,
        seats_total: args.seats,
        overdraft: args.overdraft,
        license_key: args.license_key,
        allow_weak_key: args.allow_weak_key,
        expires_at: args.expires_at.as_deref().map(parse_time).transpose()?,
        ttl_seconds: args.ttl,
        heartbeat_interval_seconds: args.heartbeat_interval,
        entitlements: args.entitlements,
        require_session_secret: args.require_session_secret,
        max_borrow_seconds: args.rules.max_borrow,
        max_borrowed_seats: args.rules.max_borrowed_seats,
        linger_seconds: args.rules.linger,
        min_hold_seconds: args.rules.min_hold,
        overdraft_minutes_per_day: args.rules.overdraft_minutes_per_day,
        leasing_strategy: args.rules.leasing.map(|l| l.wire().to_owned()),
        max_processes_per_host: args.rules.max_processes_per_host,
        max_wait_seconds: args.rules.max_wait_seconds,
        max_queue_length: args.rules.max_queue_length,
    })
}

/// The PATCH body: only what was asked to change; `--perpetual` sends `expires_at: null`.
fn license_change(args: &LicenseUpdateArgs) -> Result<Value> {
    let mut change = Map::new();
    if let Some(seats) = args.seats {
        change.insert("seats_total".into(), json!(seats));
    }
    if let Some(overdraft) = args.overdraft {
        change.insert("overdraft".into(), json!(overdraft));
    }
    if let Some(at) = &args.expires_at {
        change.insert("expires_at".into(), json!(parse_time(at)?));
    } else if args.perpetual {
        change.insert("expires_at".into(), Value::Null);
    }
    if let Some(ttl) = args.ttl {
        change.insert("ttl_seconds".into(), json!(ttl));
    }
    if let Some(interval) = args.heartbeat_interval {
        change.insert("heartbeat_interval_seconds".into(), json!(interval));
    }
    if args.clear_entitlements || !args.entitlements.is_empty() {
        change.insert("entitlements".into(), json!(args.entitlements));
    }
    if let Some(required) = args.require_session_secret {
        change.insert("require_session_secret".into(), json!(required));
    }
    let rules = &args.rules;
    let set = [
        ("max_borrow_seconds", rules.max_borrow),
        ("max_borrowed_seats", rules.max_borrowed_seats),
        ("linger_seconds", rules.linger),
        ("min_hold_seconds", rules.min_hold),
        ("overdraft_minutes_per_day", rules.overdraft_minutes_per_day),
        ("max_processes_per_host", rules.max_processes_per_host),
        ("max_wait_seconds", rules.max_wait_seconds),
        ("max_queue_length", rules.max_queue_length),
    ];
    for (field, value) in set {
        if let Some(value) = value {
            change.insert(field.into(), json!(value));
        }
    }
    if args.clear_max_borrowed_seats {
        change.insert("max_borrowed_seats".into(), Value::Null);
    }
    if args.clear_overdraft_minutes_per_day {
        change.insert("overdraft_minutes_per_day".into(), Value::Null);
    }
    if let Some(leasing) = rules.leasing {
        change.insert("leasing_strategy".into(), json!(leasing.wire()));
    }
    if args.clear_max_processes_per_host {
        change.insert("max_processes_per_host".into(), Value::Null);
    }
    if args.clear_max_queue_length {
        change.insert("max_queue_length".into(), Value::Null);
    }
    if change.is_empty() {
        return Err(Error::Usage(
            "nothing to change: pass --seats, --overdraft, --expires-at, --perpetual, --ttl, \
             --heartbeat-interval, --entitlement, --clear-entitlements, \
             --require-session-secret, --max-borrow, --max-borrowed-seats, --linger, \
             --min-hold, --overdraft-minutes-per-day, --leasing, --max-processes-per-host, \
             --max-wait-seconds, --max-queue-length or a --clear-… flag"
                .into(),
        ));
    }
    Ok(Value::Object(change))
}

/// An instant: RFC 3339 (`2027-01-01T00:00:00Z`) or a day (`2027-01-01`, midnight UTC).
fn parse_time(raw: &str) -> Result<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
        .ok_or_else(|| {
            Error::Usage(format!(
                "invalid time {raw:?}: use RFC 3339 (2027-01-01T00:00:00Z) or a day (2027-01-01)"
            ))
        })
}

async fn list_licenses(client: &Client, args: LicenseListArgs, format: OutputFormat) -> Result<u8> {
    let mut page = client
        .list_licenses(args.after.as_deref(), args.limit)
        .await?;
    if args.all {
        while let Some(after) = page.next_after.take() {
            let next = client.list_licenses(Some(&after), args.limit).await?;
            page.items.extend(next.items);
            page.next_after = next.next_after;
        }
    }
    emit(format, &page, |page| {
        let mut table = Table::new(["ID", "KEY", "PRODUCT", "STATUS", "SEATS", "EXPIRES"]);
        for l in &page.items {
            table.row([
                l.id.clone(),
                l.license_key.clone(),
                l.product.clone(),
                l.status.clone(),
                seats(l),
                opt_time(l.expires_at.as_ref()),
            ]);
        }
        let mut text = table.render();
        if let Some(after) = &page.next_after {
            text.push_str(&format!("(more: --after {after}, or --all)\n"));
        }
        text
    })?;
    Ok(0)
}

fn seats(l: &License) -> String {
    if l.overdraft > 0 {
        format!("{} (+{})", l.seats_total, l.overdraft)
    } else {
        l.seats_total.to_string()
    }
}

/// "off", or the longest borrow and the cap on borrowed seats.
fn leasing(l: &License) -> String {
    match (l.leasing_strategy.as_str(), l.max_processes_per_host) {
        ("per_process", Some(max)) => format!("per process (at most {max} per host)"),
        (strategy, _) => strategy.replace('_', " "),
    }
}

/// `license license policy show|set|clear`.
async fn policy(client: &Client, command: PolicyCommand, format: OutputFormat) -> Result<u8> {
    let (policy, json) = match command {
        PolicyCommand::Show { id, json } => (client.get_policy(&id).await?, json),
        PolicyCommand::Set { id, file, json } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| Error::io("cannot read", &file, e))?;
            let policy = if json {
                serde_json::from_str(&text).map_err(|e| {
                    Error::Usage(format!("{}: not a JSON policy: {e}", file.display()))
                })?
            } else {
                // The error names the line (`policy: line 3: …`).
                license_core::parse_options(&text)
                    .map_err(|e| Error::Usage(format!("{}: {e}", file.display())))?
            };
            (client.set_policy(&id, &policy).await?, json)
        }
        PolicyCommand::Clear { id } => {
            (client.set_policy(&id, &SeatPolicy::default()).await?, false)
        }
    };
    match (format, json) {
        (OutputFormat::Json, _) | (_, true) => print_json(&policy)?,
        (OutputFormat::Table, false) => print_text(&options_text(&policy))?,
    }
    Ok(0)
}

fn borrowing(l: &License) -> String {
    if l.max_borrow_seconds == 0 {
        return "off".into();
    }
    let cap = l
        .max_borrowed_seats
        .map_or_else(|| "any seat".into(), |n| format!("at most {n} seats"));
    format!("up to {} s, {cap}", l.max_borrow_seconds)
}

/// "off", or the longest wait and the most waiters.
fn queue(l: &License) -> String {
    if l.max_wait_seconds == 0 {
        return "off".into();
    }
    format!(
        "waits up to {} s, at most {} waiting",
        l.max_wait_seconds, l.max_queue_length
    )
}

fn license_fields(l: &License) -> String {
    let mut fields = Fields::new();
    fields
        .add("id", &l.id)
        .add("license key", &l.license_key)
        .add("product", &l.product)
        .add("status", &l.status)
        .add("seats", seats(l))
        .add(
            "expires",
            l.expires_at.as_ref().map_or_else(|| "never".into(), time),
        )
        .add("ttl", format!("{} s", l.ttl_seconds))
        .add(
            "heartbeat interval",
            format!("{} s", l.heartbeat_interval_seconds),
        )
        .add("entitlements", list(&l.entitlements))
        .add(
            "session secrets",
            if l.require_session_secret {
                "required"
            } else {
                "no"
            },
        )
        .add("leasing", leasing(l))
        .add(
            "policy",
            if l.policy.is_empty() {
                "none".to_owned()
            } else {
                format!(
                    "{} groups, {} rules (license license policy show)",
                    l.policy.groups.len(),
                    l.policy.rules.len()
                )
            },
        )
        .add("borrowing", borrowing(l))
        .add("queue", queue(l))
        .add("linger", format!("{} s", l.linger_seconds))
        .add("minimum hold", format!("{} s", l.min_hold_seconds))
        .add(
            "overdraft cap",
            l.overdraft_minutes_per_day
                .map_or_else(|| "none".into(), |m| format!("{m} seat-minutes a day")),
        )
        .add("created", time(&l.created_at))
        .add("updated", time(&l.updated_at));
    fields.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RulesArgs;

    #[test]
    fn times_take_rfc3339_or_a_day() {
        assert_eq!(
            parse_time("2027-01-01").unwrap(),
            parse_time("2027-01-01T00:00:00Z").unwrap()
        );
        assert_eq!(
            parse_time("2027-01-01T02:00:00+02:00").unwrap(),
            parse_time("2027-01-01T00:00:00Z").unwrap()
        );
        assert!(matches!(parse_time("tomorrow"), Err(Error::Usage(_))));
    }

    #[test]
    fn an_update_sends_only_what_changes() {
        let args = LicenseUpdateArgs {
            id: "x".into(),
            seats: Some(3),
            overdraft: None,
            expires_at: None,
            perpetual: true,
            ttl: None,
            heartbeat_interval: None,
            entitlements: vec![],
            clear_entitlements: false,
            require_session_secret: None,
            rules: RulesArgs::default(),
            clear_max_borrowed_seats: false,
            clear_overdraft_minutes_per_day: false,
            clear_max_processes_per_host: false,
            clear_max_queue_length: false,
        };
        assert_eq!(
            license_change(&args).unwrap(),
            json!({ "seats_total": 3, "expires_at": null })
        );
        let secrets = LicenseUpdateArgs {
            id: "x".into(),
            seats: None,
            perpetual: false,
            require_session_secret: Some(true),
            entitlements: vec![],
            ..args
        };
        assert_eq!(
            license_change(&secrets).unwrap(),
            json!({ "require_session_secret": true })
        );
        let args = LicenseUpdateArgs {
            require_session_secret: None,
            ..secrets
        };
        let nothing = LicenseUpdateArgs {
            seats: None,
            perpetual: false,
            ..args
        };
        assert!(matches!(license_change(&nothing), Err(Error::Usage(_))));
        let rules = LicenseUpdateArgs {
            rules: RulesArgs {
                max_borrow: Some(604_800),
                linger: Some(0),
                ..RulesArgs::default()
            },
            clear_max_borrowed_seats: true,
            ..nothing
        };
        assert_eq!(
            license_change(&rules).unwrap(),
            json!({ "max_borrow_seconds": 604_800, "linger_seconds": 0, "max_borrowed_seats": null })
        );
        let queue = LicenseUpdateArgs {
            rules: RulesArgs {
                max_wait_seconds: Some(0),
                ..RulesArgs::default()
            },
            clear_max_borrowed_seats: false,
            clear_max_queue_length: true,
            ..rules
        };
        assert_eq!(
            license_change(&queue).unwrap(),
            json!({ "max_wait_seconds": 0, "max_queue_length": null }),
            "0 turns the queue off; the length is cleared to the default"
        );
    }
}
