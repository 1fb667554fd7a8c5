//! Printing results: aligned tables and key–value blocks for people, JSON for scripts.

use std::fmt::Write as _;
use std::io::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::error::{Error, Result};

/// Writes `text` to stdout. A closed pipe (`license … | head`) is not an error.
pub fn write_stdout(text: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("cannot write to", "stdout", e))
        }
        _ => Ok(()),
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Other(format!("cannot encode the output: {e}")))?;
    text.push('\n');
    write_stdout(text.as_bytes())
}

/// Prints text for people on stdout, ending it with a newline.
pub fn print_text(text: &str) -> Result<()> {
    if text.is_empty() || text.ends_with('\n') {
        write_stdout(text.as_bytes())
    } else {
        write_stdout(format!("{text}\n").as_bytes())
    }
}

/// JSON for `--output json`, else the text `human` renders.
pub fn emit<T: Serialize + ?Sized>(
    format: OutputFormat,
    value: &T,
    human: impl FnOnce(&T) -> String,
) -> Result<()> {
    match format {
        OutputFormat::Json => print_json(value),
        OutputFormat::Table => print_text(&human(value)),
    }
}

/// A table with a header row, columns padded to their widest cell.
#[derive(Debug, Clone, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        Self {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// Adds a row.
    pub fn row<const N: usize>(&mut self, cells: [String; N]) -> &mut Self {
        self.rows.push(cells.into());
        self
    }

    /// The rendered table; the last column is not padded.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key: value` lines with the values aligned.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    pairs: Vec<(String, String)>,
}

impl Fields {
    /// No fields yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field.
    pub fn add(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.pairs.push((key.to_owned(), value.into()));
        self
    }

    /// The rendered lines.
    pub fn render(&self) -> String {
        let width = self
            .pairs
            .iter()
            .map(|(k, _)| k.chars().count() + 1)
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (key, value) in &self.pairs {
            let _ = writeln!(out, "{:<width$} {value}", format!("{key}:"));
        }
        out
    }
}

/// An instant as people read it: `2026-05-01T12:00:00Z` (seconds precision).
pub fn time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An optional instant, `-` when absent.
pub fn opt_time(at: Option<&DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".to_owned(), time)
}

/// An optional string, `-` when absent or empty.
pub fn opt(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => "-".to_owned(),
    }
}

/// A list, comma-separated, `-` when empty.
pub fn list(values: &[String]) -> String {
    if values.is_empty() {
        "-".to_owned()
    } else {
        values.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_to_the_widest_cell() {
        let mut table = Table::new(["ID", "NAME", "SEATS"]);
        table.row(["1".into(), "a long name".into(), "5".into()]);
        table.row(["22".into(), "b".into(), "10".into()]);
        assert_eq!(
            table.render(),
            "ID  NAME         SEATS\n1   a long name  5\n22  b            10\n"
        );
    }

    #[test]
    fn fields_align_their_values() {
        let mut fields = Fields::new();
        fields.add("id", "x").add("product", "CAD");
        assert_eq!(fields.render(), "id:      x\nproduct: CAD\n");
    }
}
