//! `license audit export [--after N] [--out FILE]` and `license audit verify FILE
//! [--after-hash HASH]`: the tenant's seat-event log as NDJSON, one entry a line (the event's
//! JSON kept as text, exactly as hashed), and its offline check with license-core's
//! `verify_chain` — no server, no credential.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};

use license_core::event_log::{ChainHash, LogEntry, verify_chain};
use serde::Serialize;

use crate::cli::{AuditCommand, AuditExportArgs, AuditVerifyArgs, OutputFormat};
use crate::client::Client;
use crate::config::Connection;
use crate::error::{Error, Result};
use crate::output::{Fields, emit};

/// Entries asked for per request.
const PAGE: u32 = 1_000;

/// Runs `license audit export|verify`; only `export` needs the connection.
pub async fn run(
    connection: impl FnOnce() -> Result<Connection>,
    command: AuditCommand,
    format: OutputFormat,
) -> Result<u8> {
    match command {
        AuditCommand::Export(args) => export(&connection()?, args).await,
        AuditCommand::Verify(args) => verify(&args, format),
    }
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
    Ok(0)
}

#[derive(Debug, Serialize)]
struct Verified {
    intact: bool,
    entries: u64,
    first: Option<u64>,
    last: Option<u64>,
    head: Option<ChainHash>,
}

fn verify(args: &AuditVerifyArgs, format: OutputFormat) -> Result<u8> {
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
    let verified = Verified {
        intact: true,
        entries: entries.len() as u64,
        first: entries.first().map(|e| e.seq),
        last: entries.last().map(|e| e.seq),
        head: entries.last().map(|e| e.hash),
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
