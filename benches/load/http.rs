//! One keep-alive HTTP/1.1 connection to the server: requests go one after another over the
//! same TCP connection, which is opened again only after a failure (and counted).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One request's time limit: past it the request is a `timeout` error and the connection is
/// opened again (its state is unknown).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server is and what every request carries.
#[derive(Clone, Debug)]
pub struct Target {
    addr: SocketAddr,
    host: HeaderValue,
    /// The URL's path without its trailing slash (`""` for a server at the root).
    prefix: String,
    bearer: Option<HeaderValue>,
}

impl Target {
    /// The server at `url` (`http://host:port`, plain HTTP), sending `token` as the bearer
    /// credential when given.
    pub async fn resolve(url: &str, token: Option<&str>) -> Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--server {url} is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            bail!("--server {url}: only http:// is supported (the load runs on loopback)");
        }
        let authority = uri
            .authority()
            .with_context(|| format!("--server {url} has no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .with_context(|| format!("cannot resolve {}", authority.host()))?
            .next()
            .with_context(|| format!("{} has no address", authority.host()))?;
        let bearer = token
            .map(|t| HeaderValue::try_from(format!("Bearer {t}")))
            .transpose()
            .context("--token holds characters a header cannot carry")?;
        Ok(Self {
            addr,
            host: HeaderValue::try_from(authority.as_str())?,
            prefix: uri.path().trim_end_matches('/').to_owned(),
            bearer,
        })
    }
}

/// An answer: its status and body.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum Failure {
    /// No answer within [`REQUEST_TIMEOUT`].
    Timeout,
    /// The connection could not be opened, or broke.
    Transport(String),
}

/// A request to send: method, path under the server URL, optional JSON body, and whether it
/// carries the bearer credential.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub json: Option<&'a [u8]>,
    pub authorised: bool,
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Connection {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Times the connection was opened again after the first.
    pub reconnects: u64,
}

impl Connection {
    /// Opens the connection now, so a run starts with all its connections established.
    pub async fn open(target: &Target) -> Result<Self> {
        let sender = connect(target.addr)
            .await
            .with_context(|| format!("cannot connect to {}", target.addr))?;
        Ok(Self {
            target: target.clone(),
            sender: Some(sender),
            reconnects: 0,
        })
    }

    /// Sends one request and reads the whole answer.
    pub async fn send(&mut self, call: Call<'_>) -> Result<Response, Failure> {
        let request = self.request(call)?;
        let sender = match &mut self.sender {
            Some(sender) if !sender.is_closed() => sender,
            _ => {
                self.reconnects += 1;
                let fresh = connect(self.target.addr)
                    .await
                    .map_err(|e| Failure::Transport(format!("{e:#}")))?;
                self.sender.insert(fresh)
            }
        };
        let exchange = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>(Response { status, body })
        };
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, exchange).await;
        match outcome {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => {
                self.sender = None;
                Err(Failure::Transport(e.to_string()))
            }
            Err(_) => {
                self.sender = None;
                Err(Failure::Timeout)
            }
        }
    }

    fn request(&self, call: Call<'_>) -> Result<Request<Full<Bytes>>, Failure> {
        let mut builder = Request::builder()
            .method(call.method.clone())
            .uri(format!("{}{}", self.target.prefix, call.path))
            .header(HOST, self.target.host.clone());
        if call.authorised
            && let Some(bearer) = &self.target.bearer
        {
            builder = builder.header(AUTHORIZATION, bearer.clone());
        }
        let body = match call.json {
            Some(json) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::copy_from_slice(json))
            }
            None => Full::new(Bytes::new()),
        };
        builder
            .body(body)
            .map_err(|e| Failure::Transport(format!("cannot build the request: {e}")))
    }
}

/// A fresh TCP connection (no Nagle delay) with its HTTP/1.1 handshake; the task driving it
/// ends when the connection closes.
async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Its error reaches the sender too, which reports it on the next request.
        let _ = connection.await;
    });
    Ok(sender)
}
