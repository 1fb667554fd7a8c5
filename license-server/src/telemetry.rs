//! Logging: JSON lines with Cloud Logging's `severity` in production, pretty lines in
//! development. `log.format = "auto"` (the default) picks JSON whenever stderr, where logs go,
//! is not a terminal, so a file, a pipe or a container runtime never receives colour codes.
//! The writer is injectable, so tests can read what was logged.

use std::fmt;
use std::io::IsTerminal as _;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber for `config`, writing to stderr.
pub fn init(config: &LogConfig) -> Result<(), String> {
    let filter = EnvFilter::try_new(&config.filter).map_err(|e| e.to_string())?;
    let terminal = std::io::stderr().is_terminal();
    tracing_subscriber::registry()
        .with(styled_layer(config.format, terminal, std::io::stderr).with_filter(filter))
        .try_init()
        .map_err(|e| e.to_string())
}

/// The formatting layer for `format`, writing to `writer`, which is taken for a file: `auto`
/// is JSON and nothing is coloured.
pub fn layer<S, W>(format: LogFormat, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    styled_layer(format, false, writer)
}

/// The formatting layer for `format` (`auto` resolved by `terminal`), writing to `writer`;
/// colour codes only when `terminal` says the writer is one.
fn styled_layer<S, W>(
    format: LogFormat,
    terminal: bool,
    writer: W,
) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format.resolve(terminal) {
        LogFormat::Json | LogFormat::Auto => tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(CloudLogging)
            .with_writer(writer)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(terminal)
            .with_target(false)
            .boxed(),
    }
}

/// One JSON object per event: `timestamp`, `severity` (as Cloud Logging reads it), `message`,
/// `target`, the event's fields, and the fields of every enclosing span (outermost first, inner
/// spans winning).
#[derive(Clone, Copy, Debug, Default)]
pub struct CloudLogging;

fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

impl<S> FormatEvent<S, JsonFields> for CloudLogging
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut entry = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                    entry.extend(fields);
                }
            }
        }
        event.record(&mut JsonVisitor(&mut entry));
        let metadata = event.metadata();
        entry.insert(
            "timestamp".into(),
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        entry.insert("severity".into(), Value::from(severity(metadata.level())));
        entry.insert("target".into(), Value::from(metadata.target()));
        if let Some(span) = ctx.lookup_current() {
            entry.insert("span".into(), Value::from(span.name()));
        }
        writeln!(writer, "{}", Value::Object(entry))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::field;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: LogFormat, terminal: bool) -> String {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber =
            tracing_subscriber::registry()
                .with(styled_layer(format, terminal, move || sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("acquire", tenant_id = "t-1");
            let _entered = span.enter();
            tracing::warn!(seats = 3, "no seats left");
        });
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn auto_is_json_unless_the_stream_is_a_terminal() {
        assert_eq!(LogFormat::Auto.resolve(false), LogFormat::Json);
        assert_eq!(LogFormat::Auto.resolve(true), LogFormat::Pretty);
        assert_eq!(LogFormat::Json.resolve(true), LogFormat::Json);
        assert_eq!(LogFormat::Pretty.resolve(false), LogFormat::Pretty);
        assert_eq!(LogConfig::default().format, LogFormat::Auto);
    }

    #[test]
    fn a_file_or_pipe_gets_no_escape_codes() {
        // What `init` builds when stderr is not a terminal, for each setting.
        let auto = logged(LogFormat::Auto, false);
        assert!(!auto.contains('\x1b'), "{auto:?}");
        let line: Value = serde_json::from_str(auto.trim()).unwrap();
        assert_eq!(line["message"], "no seats left");
        let pretty = logged(LogFormat::Pretty, false);
        assert!(!pretty.contains('\x1b'), "{pretty:?}");
        assert!(pretty.contains("no seats left"), "{pretty}");
        // On a terminal, pretty lines are coloured (so the test above can fail).
        assert!(logged(LogFormat::Auto, true).contains('\x1b'));
    }

    #[test]
    fn json_lines_carry_severity_message_and_span_ids() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber =
            tracing_subscriber::registry().with(layer(LogFormat::Json, move || sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("acquire", tenant_id = "t-1", outcome = field::Empty);
            let _entered = span.enter();
            span.record("outcome", "granted");
            tracing::warn!(seats = 3, "no seats left");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["severity"], "WARNING");
        assert_eq!(line["message"], "no seats left");
        assert_eq!(line["seats"], 3);
        assert_eq!(line["tenant_id"], "t-1");
        assert_eq!(line["outcome"], "granted");
        assert_eq!(line["span"], "acquire");
    }
}
