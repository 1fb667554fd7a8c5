//! `license usage LICENSE_ID` (live seats and daily figures), `license usage LICENSE_ID --by
//! user [--bucket hour] [--format csv --out FILE]` (a report from the seat-event log),
//! `license usage statement LICENSE_ID --day DAY` (a signed daily statement) and `license
//! usage verify-statement FILE --tenant ID` (checked offline with license-core's
//! `verify_statement`, no credential).

use std::io::Write as _;

use chrono::{TimeDelta, Utc};
use license_core::TenantId;
use license_core::usage_statement::verify_statement;

use super::admin::{check_days, usage};
use crate::api::UsageStatement;
use crate::cli::{
    ConnectionArgs, OutputFormat, ReportBucket, ReportBy, ReportFormat, StatementArgs,
    StatementVerifyArgs, UsageArgs, UsageCommand,
};
use crate::client::Client;
use crate::config;
use crate::error::{Error, Result};
use crate::output::{Fields, Table, emit, time};

/// Runs `license usage …`.
pub async fn run(connection: &ConnectionArgs, args: UsageArgs, format: OutputFormat) -> Result<u8> {
    match &args.command {
        Some(UsageCommand::Statement(statement_args)) => {
            statement(&config::resolve(connection)?, statement_args, format).await
        }
        Some(UsageCommand::VerifyStatement(verify_args)) => {
            verify(verify_args, connection, format).await
        }
        None => {
            let Some(id) = args.id.clone() else {
                return Err(Error::Usage(
                    "name the license: license usage LICENSE_ID".into(),
                ));
            };
            let connection = config::resolve(connection)?;
            if args.by.is_some() || args.bucket.is_some() || args.format.is_some() {
                report(&connection, &id, &args, format).await
            } else {
                usage(&connection, &id, &args, format).await
            }
        }
    }
}

/// A report from the seat-event log: a table (or JSON), or the server's CSV / NDJSON
/// written out as it came.
async fn report(
    connection: &config::Connection,
    id: &str,
    args: &UsageArgs,
    format: OutputFormat,
) -> Result<u8> {
    check_days(&[&args.from, &args.to])?;
    let by = match args.by.unwrap_or(ReportBy::License) {
        ReportBy::License => "license",
        ReportBy::User => "user",
        ReportBy::Host => "host",
        ReportBy::Group => "group",
    };
    let bucket = match args.bucket.unwrap_or(ReportBucket::Day) {
        ReportBucket::Day => "day",
        ReportBucket::Hour => "hour",
    };
    let mut query = vec![("by", by.to_owned()), ("bucket", bucket.to_owned())];
    query.extend(args.from.clone().map(|d| ("from", d)));
    query.extend(args.to.clone().map(|d| ("to", d)));
    let client = Client::new(connection)?;
    if let Some(file_format) = args.format {
        query.push((
            "format",
            match file_format {
                ReportFormat::Csv => "csv",
                ReportFormat::Ndjson => "ndjson",
            }
            .to_owned(),
        ));
        let text = client.report_text(id, &query).await?;
        match &args.out {
            Some(path) => {
                std::fs::write(path, &text)
                    .map_err(|e| Error::io("cannot write", path.display().to_string(), e))?;
                eprintln!("report written to {}", path.display());
            }
            None => std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| Error::io("cannot write", "stdout", e))?,
        }
        return Ok(0);
    }
    let report = client.report(id, &query).await?;
    emit(format, &report, |r| {
        let mut text = String::new();
        if r.events_lost > 0 {
            text.push_str(&format!(
                "warning: {} events were lost before the period's end; figures may be short\n",
                r.events_lost
            ));
        }
        if r.rows.is_empty() {
            text.push_str("no activity in the period\n");
            return text;
        }
        let key = by.to_uppercase();
        let mut table = Table::new([
            "START",
            key.as_str(),
            "PEAK SEATS",
            "SEAT HOURS",
            "OVERDRAFT SEAT-MINUTES",
            "DENIALS",
            "QUEUE WAITS",
            "SEATED",
        ]);
        for row in &r.rows {
            #[allow(clippy::cast_precision_loss)]
            let hours = row.seat_seconds as f64 / 3600.0;
            table.row([
                time(&row.start),
                row.key.clone().unwrap_or_else(|| "-".into()),
                row.peak_seats.to_string(),
                format!("{hours:.2}"),
                (row.overdraft_seat_seconds / 60).to_string(),
                row.denials.to_string(),
                row.queue_waits.to_string(),
                row.queue_waits_seated.to_string(),
            ]);
        }
        text.push_str(&table.render());
        text
    })?;
    Ok(0)
}

async fn statement(
    connection: &config::Connection,
    args: &StatementArgs,
    format: OutputFormat,
) -> Result<u8> {
    let day = match &args.day {
        Some(day) => {
            check_days(&[&args.day])?;
            day.clone()
        }
        None => (Utc::now().date_naive() - TimeDelta::days(1)).to_string(),
    };
    let signed = Client::new(connection)?
        .usage_statement(&args.id, &day)
        .await?;
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&signed)
            .map_err(|e| Error::Other(format!("cannot encode the statement: {e}")))?;
        std::fs::write(path, json + "\n")
            .map_err(|e| Error::io("cannot write", path.display().to_string(), e))?;
    }
    emit(format, &signed, |s| {
        let mut fields = figures(s);
        fields
            .add("signed at", time(&s.signed_at))
            .add("statement", &s.statement);
        fields.render()
    })?;
    Ok(0)
}

fn figures(s: &UsageStatement) -> Fields {
    let mut fields = Fields::new();
    fields
        .add("license", &s.license_id)
        .add("day", s.day.to_string())
        .add("seats", s.seats_total.to_string())
        .add("peak seats", s.peak_seats.to_string())
        .add("overdraft peak", s.overdraft_peak.to_string())
        .add("seat hours", format!("{:.2}", hours(s.seat_seconds)))
        .add(
            "overdraft seat-minutes",
            (s.overdraft_seat_seconds / 60).to_string(),
        )
        .add("denials", s.denials.to_string())
        .add("events lost", s.events_lost.to_string())
        .add(
            "log entry",
            format!("{} ({})", s.through_seq, s.through_hash),
        );
    fields
}

#[allow(clippy::cast_precision_loss)]
fn hours(seconds: u64) -> f64 {
    seconds as f64 / 3600.0
}

/// Checks a statement offline: signed by the tenant's key (pinned to the root with
/// `--root`), for that tenant, of the statement type. Prints what it says.
async fn verify(
    args: &StatementVerifyArgs,
    connection: &ConnectionArgs,
    format: OutputFormat,
) -> Result<u8> {
    let tenant: TenantId = args
        .tenant
        .parse()
        .map_err(|_| Error::Usage(format!("--tenant {:?} is not a tenant id", args.tenant)))?;
    let text = if args.file == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| Error::io("cannot read the statement from", "stdin", e))?
    } else {
        std::fs::read_to_string(&args.file).map_err(|e| Error::io("cannot read", &args.file, e))?
    };
    // `license usage statement --out`'s JSON, or the bare JWS.
    let jws = match serde_json::from_str::<UsageStatement>(&text) {
        Ok(signed) => signed.statement,
        Err(_) => text.trim().to_owned(),
    };
    let keys = super::verify::trusted_keys(tenant, &args.keys, connection, Utc::now()).await?;
    let claims = verify_statement(&keys, &jws, &args.keys.issuer, tenant)
        .map_err(|e| Error::InvalidToken(format!("the statement does not verify: {e}")))?;
    emit(format, &claims, |c| {
        let mut fields = Fields::new();
        fields
            .add("verified", "signed by the tenant's key")
            .add("tenant", c.tid.to_string())
            .add("license", c.lic.to_string())
            .add("day", c.day.to_string())
            .add("seats", c.seats_total.to_string())
            .add("peak seats", c.peak_seats.to_string())
            .add("overdraft peak", c.overdraft_peak.to_string())
            .add("seat hours", format!("{:.2}", hours(c.seat_seconds)))
            .add(
                "overdraft seat-minutes",
                (c.overdraft_seat_seconds / 60).to_string(),
            )
            .add("denials", c.denials.to_string())
            .add("events lost", c.events_lost.to_string())
            .add(
                "log entry",
                format!("{} ({})", c.through_seq, c.through_hash),
            );
        fields.render()
    })?;
    Ok(0)
}
