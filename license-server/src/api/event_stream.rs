//! Admin: the tenant's seat-event log as a live stream (server-sent events), for dashboards
//! and the console. Each SSE event is one log entry, its `id` the entry's number: a client
//! that reconnects with `Last-Event-ID` resumes after the last entry it saw, so nothing is
//! missed or repeated. The stream polls the store (every replica sees every replica's
//! entries), ends after `MAX_STREAM` or when the server stops, and on a store error; the
//! client reconnects.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt as _};
use license_core::TenantId;
use license_core::event_log::LogEntry;
use poem::web::Data;
use poem::web::sse::Event;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::EventStream;
use poem_openapi::types::ToJSON as _;
use poem_openapi::{ApiResponse, OpenApi};
use tokio::time::Instant;

use super::ApiTags;
use super::error::AdminError;
use super::events::EventLogEntry;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// How often an idle stream looks for new entries.
const POLL: Duration = Duration::from_millis(500);
/// Entries read at once.
const PAGE: u32 = 200;
/// How long one stream lasts; the client reconnects with `Last-Event-ID` (a connection is
/// not held for ever, and a replica being replaced sheds its streams).
pub const MAX_STREAM: Duration = Duration::from_secs(300);
/// A comment line this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Admin routes for the live stream.
#[derive(Debug)]
pub struct EventStreamApi;

/// The live stream.
#[derive(ApiResponse)]
pub enum StreamOk {
    /// Entries numbered after `after` (or `Last-Event-ID`), then each new one as it is
    /// written; one SSE event (`event: entry`, `id: <seq>`) per entry.
    #[oai(status = 200)]
    Ok(EventStream<BoxStream<'static, EventLogEntry>>),
}

impl std::fmt::Debug for StreamOk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamOk")
    }
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Audit")]
impl EventStreamApi {
    /// Stream seat events live
    ///
    /// The tenant's seat-event log as server-sent events: the entries after `after` (or after
    /// the `Last-Event-ID` a reconnecting client sends), then each new entry within about
    /// half a second of being written, by any replica. Each event's `id` is the entry's
    /// number and its data the entry as `list_events` returns it. The stream ends after five
    /// minutes, when the server stops, or on a store error: reconnect with `Last-Event-ID`.
    #[oai(
        path = "/events/stream",
        method = "get",
        operation_id = "stream_events"
    )]
    async fn stream(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        /// Entries numbered after this one (default 0: from the start).
        after: Query<Option<u64>>,
        /// The last entry a reconnecting client saw (its SSE `id`); wins over `after`.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<u64>>,
    ) -> Result<StreamOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let after = last_event_id.0.or(after.0).unwrap_or(0);
        // The first read answers here: a missing tenant or a store outage is an HTTP error,
        // not an empty stream.
        let first = state.admin.event_log(tenant, after, PAGE).await?;
        let live = live_entries(state.0.clone(), tenant, after, first);
        Ok(StreamOk::Ok(
            EventStream::new(live)
                .keep_alive(KEEP_ALIVE)
                .to_event(|entry| {
                    let id = entry.seq.to_string();
                    Event::message(entry.to_json_string())
                        .event_type("entry")
                        .id(id)
                }),
        ))
    }
}

/// What a stream holds between polls.
struct Cursor {
    state: Arc<AppState>,
    tenant: TenantId,
    after: u64,
    ready: VecDeque<LogEntry>,
    ends: Instant,
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// The entries after `after` (`first` already read), then new ones as they come.
fn live_entries(
    state: Arc<AppState>,
    tenant: TenantId,
    after: u64,
    first: Vec<LogEntry>,
) -> BoxStream<'static, EventLogEntry> {
    let stopping = state.stopping.subscribe();
    let cursor = Cursor {
        state,
        tenant,
        after,
        ready: first.into(),
        ends: Instant::now() + MAX_STREAM,
        stopping,
    };
    stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(entry) = c.ready.pop_front() {
                c.after = entry.seq;
                return Some((EventLogEntry::from(entry), c));
            }
            if *c.stopping.borrow() {
                return None;
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = tokio::time::sleep_until(c.ends) => return None,
                _ = c.stopping.changed() => return None,
            }
            match c.state.admin.event_log(c.tenant, c.after, PAGE).await {
                Ok(entries) => c.ready.extend(entries),
                // The client reconnects with its last id; the outage answers it then.
                Err(_) => return None,
            }
        }
    })
    .boxed()
}
