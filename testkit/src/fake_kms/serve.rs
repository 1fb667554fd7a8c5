//! The fake's HTTP side: the accept loop, routing, bearer tokens, the faults that replace a
//! reply (status, delay), and Google's error replies.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::methods::{decrypt, encrypt, public_key, sign};
use super::{ACCESS_TOKEN, Fault, KEY_NAME, Seen, State, lock};

/// A reply of the fake.
pub(super) type Reply = Response<Full<Bytes>>;

/// The four methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    GetPublicKey,
    AsymmetricSign,
    Encrypt,
    Decrypt,
}

impl Method {
    /// The IAM permission Cloud KMS names when it refuses the method.
    fn permission(self) -> &'static str {
        match self {
            Method::GetPublicKey => "cloudkms.cryptoKeyVersions.viewPublicKey",
            Method::AsymmetricSign => "cloudkms.cryptoKeyVersions.useToSign",
            Method::Encrypt => "cloudkms.cryptoKeyVersions.useToEncrypt",
            Method::Decrypt => "cloudkms.cryptoKeyVersions.useToDecrypt",
        }
    }
}

/// The method and resource name of a request, if it is one of the four.
fn route<'p>(method: &str, path: &'p str) -> Option<(Method, &'p str)> {
    let rest = path.strip_prefix("/v1/")?;
    if method == "GET" {
        return rest
            .strip_suffix("/publicKey")
            .map(|name| (Method::GetPublicKey, name));
    }
    if method != "POST" {
        return None;
    }
    let (name, verb) = rest.rsplit_once(':')?;
    let method = match verb {
        "asymmetricSign" => Method::AsymmetricSign,
        "encrypt" => Method::Encrypt,
        "decrypt" => Method::Decrypt,
        _ => return None,
    };
    Some((method, name))
}

/// Serves every connection `listener` accepts, until the fake is dropped.
pub(super) async fn accept(listener: TcpListener, state: Arc<Mutex<State>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| handle(Arc::clone(&state), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(state: Arc<Mutex<State>>, request: Request<Incoming>) -> Result<Reply, Infallible> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(google_error(400, "INVALID_ARGUMENT", "unreadable body")),
    };
    let routed = route(&method, &path);
    let fault = {
        let mut state = lock(&state);
        state.seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            authorization: authorization.clone(),
        });
        let calls = &mut state.calls;
        match routed.map(|(method, _)| method) {
            Some(Method::GetPublicKey) => calls.get_public_key += 1,
            Some(Method::AsymmetricSign) => calls.asymmetric_sign += 1,
            Some(Method::Encrypt) => calls.encrypt += 1,
            Some(Method::Decrypt) => calls.decrypt += 1,
            None => {}
        }
        state.faults.pop_front()
    };
    if let Some(Fault::Delay(wait)) = fault {
        tokio::time::sleep(wait).await;
    }
    let Some((method, name)) = routed else {
        return Ok(google_error(404, "NOT_FOUND", "No such method."));
    };
    if let Some(Fault::Status(code, status)) = fault {
        return Ok(injected(code, status, method, name));
    }
    if authorization.as_deref() != Some(&format!("Bearer {ACCESS_TOKEN}")) {
        return Ok(google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ));
    }
    let state = lock(&state);
    let fault = fault.as_ref();
    let reply = match method {
        Method::GetPublicKey | Method::AsymmetricSign if name != KEY_NAME => google_error(
            404,
            "NOT_FOUND",
            &format!("CryptoKeyVersion {name} not found."),
        ),
        Method::GetPublicKey => public_key(&state, fault),
        Method::AsymmetricSign => sign(&state, &body, fault),
        Method::Encrypt | Method::Decrypt => {
            match state.wrap_keys.iter().find(|key| key.name == name) {
                None => google_error(404, "NOT_FOUND", &format!("CryptoKey {name} not found.")),
                Some(key) if method == Method::Encrypt => encrypt(key, &body, fault),
                Some(key) => decrypt(key, &body, fault),
            }
        }
    };
    Ok(reply)
}

/// The reply of a [`Fault::Status`], with the message Cloud KMS would give for the common ones.
fn injected(code: u16, status: &str, method: Method, name: &str) -> Reply {
    let message = match status {
        "FAILED_PRECONDITION" => {
            let version = if name.contains("/cryptoKeyVersions/") {
                name.to_owned()
            } else {
                format!("{name}/cryptoKeyVersions/1")
            };
            format!("{version} is not enabled, current state is: DISABLED.")
        }
        "PERMISSION_DENIED" => format!(
            "Permission '{}' denied on resource '{name}' (or it may not exist).",
            method.permission()
        ),
        other => format!("injected {other}"),
    };
    google_error(code, status, &message)
}

/// A JSON reply with `status`.
pub(super) fn json_reply(status: u16, body: &Value) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())));
    *reply.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    reply
}

/// Google's error body: `{"error": {"code", "message", "status"}}`.
pub(super) fn google_error(code: u16, status: &str, message: &str) -> Reply {
    json_reply(
        code,
        &json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

/// 400 `INVALID_ARGUMENT`.
pub(super) fn invalid(message: &str) -> Reply {
    google_error(400, "INVALID_ARGUMENT", message)
}
