//! The request body, read up front by a middleware around every route: at most
//! `server.body_limit_bytes` (413, whether or not the client declared a length), in full
//! within `server.body_read_timeout_seconds` of the head (408, and the connection closes),
//! so a client trickling a body holds its connection no longer than that.

use std::sync::Arc;
use std::time::Duration;

use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::debug;

use crate::api::error::ApiError;
use crate::metrics::ConnectionMetrics;

/// The bounds on a request body.
#[derive(Clone, Debug)]
pub struct BodyLimits {
    /// Largest body accepted, in bytes.
    pub max_bytes: usize,
    /// How long the whole body may take to arrive once the head has.
    pub read_timeout: Duration,
    /// Counts the bodies cut by the timeout.
    pub metrics: ConnectionMetrics,
}

/// Reads the body within `limits`, then calls `next` with it.
pub async fn read_body<E: Endpoint>(
    next: Arc<E>,
    mut req: Request,
    limits: Arc<BodyLimits>,
) -> poem::Result<Response> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_bytes as u64) {
        return Err(poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE));
    }
    let read = req.take_body().into_bytes_limit(limits.max_bytes);
    let Ok(body) = tokio::time::timeout(limits.read_timeout, read).await else {
        debug!(
            remote_addr = %req.remote_addr(),
            "request body not in after server.body_read_timeout_seconds"
        );
        limits.metrics.cut("body");
        let mut response = ApiError::request_timeout().into_response();
        // The rest of the body may still come: this connection carries no further request.
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return Err(poem::Error::from_response(response));
    };
    req.set_body(body?);
    next.call(req).await.map(IntoResponse::into_response)
}
