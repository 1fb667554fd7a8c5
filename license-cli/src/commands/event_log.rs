//! `license audit export [--after N] [--out FILE] [--checkpoint FILE]`, `license audit
//! checkpoint --seq N` and `license audit verify FILE [--after-hash HASH] [--checkpoint FILE
//! --tenant ID]`: the tenant's seat-event log as NDJSON, one entry a line (the event's JSON
//! kept as text, exactly as hashed), checkpoints the tenant's key signs, and the offline check
//! with license-core's `verify_chain` and `verify_checkpoint` — no credential (the tenant's
//! published keys are public).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};

use license_core::TenantId;
use license_core::event_checkpoint::{CheckpointClaims, verify_checkpoint, verify_embedded};
use license_core::event_log::{ChainHash, LogEntry, verify_chain};
use serde::Serialize;

use crate::api::EventCheckpoint;
use crate::cli::{
    AuditCheckpointArgs, AuditCommand, AuditExportArgs, AuditVerifyArgs, ConnectionArgs,
    OutputFormat,
};
use crate::client::Client;
use crate::config::{self, Connection};
use crate::error::{Error, Result};
use crate::output::{Fields, emit, time};

/// Entries asked for per request.
const PAGE: u32 = 1_000;

/// Runs `license audit export|checkpoint|verify`; `verify` needs no credential (with
/// `--checkpoint` and no `--jwks`, it reads the tenant's published keys from the server).
pub async fn run(
    connection: &ConnectionArgs,
    command: AuditCommand,
    format: OutputFormat,
) -> Result<u8> {
    match command {
        AuditCommand::Export(args) => export(&config::resolve(connection)?, args).await,
        AuditCommand::Checkpoint(args) => {
            checkpoint(&config::resolve(connection)?, &args, format).await
        }
        AuditCommand::Verify(args) => verify(&args, connection, format).await,
    }
}

async fn checkpoint(
    connection: &Connection,
    args: &AuditCheckpointArgs,
    format: OutputFormat,
) -> Result<u8> {
    let signed = Client::new(connection)?.event_checkpoint(args.seq).await?;
    if let Some(path) = &args.out {
        write_checkpoint(path, &signed)?;
    }
    emit(format, &signed, |c| {
        let mut fields = Fields::new();
        fields
            .add("entry", c.seq.to_string())
            .add("hash", &c.hash)
            .add("signed at", time(&c.signed_at))
            .add("checkpoint", &c.checkpoint);
        fields.render()
    })?;
    Ok(0)
}

fn write_checkpoint(path: &std::path::Path, signed: &EventCheckpoint) -> Result<()> {
    let json = serde_json::to_string_pretty(signed)
        .map_err(|e| Error::Other(format!("cannot encode the checkpoint: {e}")))?;
    std::fs::write(path, json + "\n").map_err(|e| Error::io("cannot write", path, e))
}

async fn export(connection: &Connection, args: AuditExportArgs) -> Result<u8> {
    let client = Client::new(connection)?;
    let mut out: Box<dyn std::io::Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| Error::io("cannot create", path, e))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let target = args
        .out
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("stdout"));
    let (mut after, mut count, mut first) = (args.after, 0u64, None);
    // Ranges until one comes back empty: entries written meanwhile are exported too.
    loop {
        let page = client.event_log(after, PAGE).await?;
        if page.entries.is_empty() {
            break;
        }
        for entry in &page.entries {
            let line = serde_json::to_string(entry)
                .map_err(|e| Error::Other(format!("cannot encode entry {}: {e}", entry.seq)))?;
            writeln!(out, "{line}").map_err(|e| Error::io("cannot write to", &target, e))?;
            first.get_or_insert(entry.seq);
            count += 1;
        }
        after = page.next_after;
    }
    out.flush()
        .map_err(|e| Error::io("cannot write to", &target, e))?;
    match first {
        Some(first) => eprintln!("exported {count} entries ({first}–{after})"),
        None => eprintln!("no entries after {}", args.after),
    }
    if let Some(path) = &args.checkpoint {
        if first.is_none() {
            return Err(Error::Other(
                "no entry exported: nothing to checkpoint".into(),
            ));
        }
        write_checkpoint(path, &client.event_checkpoint(after).await?)?;
        eprintln!("checkpoint of entry {after} written to {}", path.display());
    }
    Ok(0)
}

#[derive(Debug, Serialize)]
struct Verified {
    intact: bool,
    entries: u64,
    first: Option<u64>,
    last: Option<u64>,
    head: Option<ChainHash>,
    /// The checkpoint the range agrees with, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint: Option<CheckpointClaims>,
    /// The range's own `checkpoint` entries, checked (with `--tenant`).
    #[serde(skip_serializing_if = "Option::is_none")]
    embedded_checkpoints: Option<Vec<CheckpointClaims>>,
    /// The range's `checkpoint` entries left unchecked (no `--tenant`).
    unchecked_checkpoints: usize,
}

async fn verify(
    args: &AuditVerifyArgs,
    connection: &ConnectionArgs,
    format: OutputFormat,
) -> Result<u8> {
    let entries = read_entries(&args.file)?;
    let anchor = match &args.after_hash {
        Some(hash) => {
            let hash = ChainHash::from_hex(hash)
                .ok_or_else(|| Error::Usage("--after-hash must be 64 hex digits".into()))?;
            let before = entries.first().map_or(0, |e| e.seq.saturating_sub(1));
            Some((before, hash))
        }
        None => None,
    };
    verify_chain(&entries, anchor).map_err(|broken| Error::BrokenLog(broken.to_string()))?;
    let checkpoint = match &args.checkpoint {
        Some(file) => Some(vouched(args, file, &entries, connection).await?),
        None => None,
    };
    let in_range = entries
        .iter()
        .filter(|e| e.body.contains("\"type\":\"checkpoint\""))
        .count();
    let embedded = match &args.tenant {
        Some(_) if in_range > 0 => {
            let (tenant, keys) = tenant_keys(args, connection).await?;
            Some(
                verify_embedded(&entries, &keys, &args.keys.issuer, tenant)
                    .map_err(|e| Error::BrokenLog(e.to_string()))?,
            )
        }
        _ => None,
    };
    let verified = Verified {
        intact: true,
        entries: entries.len() as u64,
        first: entries.first().map(|e| e.seq),
        last: entries.last().map(|e| e.seq),
        head: entries.last().map(|e| e.hash),
        checkpoint,
        unchecked_checkpoints: if embedded.is_some() { 0 } else { in_range },
        embedded_checkpoints: embedded,
    };
    emit(format, &verified, |v| {
        let mut fields = Fields::new();
        fields.add("intact", "yes");
        fields.add("entries", v.entries.to_string());
        if let (Some(first), Some(last)) = (v.first, v.last) {
            fields.add("range", format!("{first}–{last}"));
        }
        if let Some(head) = v.head {
            fields.add("head", head.to_string());
        }
        if let Some(c) = &v.checkpoint {
            let signed = chrono::DateTime::from_timestamp(c.iat, 0)
                .map_or_else(|| c.iat.to_string(), |at| time(&at));
            fields.add(
                "checkpoint",
                format!("entry {} signed by tenant {} at {signed}", c.seq, c.tid),
            );
        }
        if let Some(embedded) = &v.embedded_checkpoints {
            let last = embedded.iter().map(|c| c.seq).max().unwrap_or_default();
            fields.add(
                "checkpoints",
                format!(
                    "{} in the range verified (signed by the tenant's key, the last for entry {last})",
                    embedded.len()
                ),
            );
        } else if v.unchecked_checkpoints > 0 {
            fields.add(
                "checkpoints",
                format!(
                    "{} in the range, not checked: give --tenant to check them",
                    v.unchecked_checkpoints
                ),
            );
        }
        fields.render()
    })?;
    Ok(0)
}

/// The entries of an NDJSON file (or stdin), in file order; a line that is no entry is named.
fn read_entries(file: &str) -> Result<Vec<LogEntry>> {
    let reader: Box<dyn std::io::BufRead> = if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::io("cannot read", "stdin", e))?;
        Box::new(std::io::Cursor::new(text))
    } else {
        Box::new(BufReader::new(
            std::fs::File::open(file).map_err(|e| Error::io("cannot open", file, e))?,
        ))
    };
    let mut entries = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::io("cannot read", file, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: LogEntry = serde_json::from_str(&line)
            .map_err(|e| Error::BrokenLog(format!("line {} is not an entry: {e}", n + 1)))?;
        entries.push(entry);
    }
    Ok(entries)
}

/// `--tenant` and its keys (`--jwks`, `--root`); keys that cannot be trusted break the log.
async fn tenant_keys(
    args: &AuditVerifyArgs,
    connection: &ConnectionArgs,
) -> Result<(TenantId, license_core::Jwks)> {
    let tenant_text = args.tenant.as_deref().unwrap_or_default();
    let tenant: TenantId = tenant_text
        .parse()
        .map_err(|_| Error::Usage(format!("--tenant {tenant_text:?} is not a tenant id")))?;
    let keys = super::verify::trusted_keys(tenant, &args.keys, connection, chrono::Utc::now())
        .await
        .map_err(|e| match e {
            Error::InvalidToken(why) => Error::BrokenLog(format!("the tenant's keys: {why}")),
            other => other,
        })?;
    Ok((tenant, keys))
}

/// The checkpoint in `file`, checked against the tenant's keys, and the range's agreement with
/// it: its entry is in the range with the hash it vouches for (the chain, already checked,
/// ties every earlier entry to it).
async fn vouched(
    args: &AuditVerifyArgs,
    file: &str,
    entries: &[LogEntry],
    connection: &ConnectionArgs,
) -> Result<CheckpointClaims> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io("cannot read", file, e))?;
    // `license audit checkpoint`'s JSON, or the bare JWS.
    let jws = match serde_json::from_str::<EventCheckpoint>(&text) {
        Ok(signed) => signed.checkpoint,
        Err(_) => text.trim().to_owned(),
    };
    let (tenant, keys) = tenant_keys(args, connection).await?;
    let claims = verify_checkpoint(&keys, &jws, &args.keys.issuer, tenant)
        .map_err(|e| Error::BrokenLog(format!("the checkpoint does not verify: {e}")))?;
    match entries.iter().find(|e| e.seq == claims.seq) {
        Some(entry) if entry.hash == claims.hash => Ok(claims),
        Some(entry) => Err(Error::BrokenLog(format!(
            "entry {} has hash {}, but the checkpoint vouches for {}",
            entry.seq, entry.hash, claims.hash
        ))),
        None => Err(Error::BrokenLog(format!(
            "the checkpoint vouches for entry {}, which is not in the range",
            claims.seq
        ))),
    }
}
