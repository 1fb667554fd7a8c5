//! The web console (ADR 0033): a single-page app under `/console`, built from `console/` at the
//! repository root and committed under `license-server/console/`, so it is embedded in the
//! binary and `cargo build` needs no Node. `console/check` fails when the committed build
//! differs from a fresh one.
//!
//! `GET /console/config.json` tells the page how to sign in by single sign-on (ADR 0033, part
//! 3), from `auth.oidc`: not an API operation, a setting of the page like its assets.

use std::sync::Arc;

use poem::{
    Endpoint, Response, Route, get, handler,
    http::{StatusCode, header},
    web::{Data, Path},
};
use serde_json::{Value, json};

use crate::config::OidcConfig;
use crate::state::AppState;

/// The console's Content-Security-Policy: its own origin only, no inline script or style, no
/// framing, no forms posted anywhere; images may be `data:` URLs (uPlot draws on a canvas).
/// With single sign-on, [`content_security_policy`] adds the token endpoint's origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The policy for a console whose single sign-on exchanges codes at `token_endpoint`: the
/// strict one, with that endpoint's origin (only) added to `connect-src`, since the page
/// fetches the ID token from it. The sign-in redirect is a navigation, which no directive
/// governs (`form-action` stays `'none'`: the page posts no form).
pub fn content_security_policy(token_endpoint: Option<&str>) -> String {
    let origin = token_endpoint
        .and_then(|url| reqwest::Url::parse(url).ok())
        .map(|url| url.origin())
        .filter(|origin| origin.is_tuple())
        .map(|origin| origin.ascii_serialization());
    match origin {
        Some(origin) => CONTENT_SECURITY_POLICY.replacen(
            "connect-src 'self'",
            &format!("connect-src 'self' {origin}"),
            1,
        ),
        None => CONTENT_SECURITY_POLICY.to_owned(),
    }
}

/// One committed file: its name under `/console/`, its content type and its bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Every file the console serves. The page itself is `index.html`, served at `/console`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../console/index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../console/app.css"),
    },
];

/// The console's routes, to be nested at `/console`: the page at `/`, its settings at
/// `/config.json` and each asset by name. They read the settings from the [`AppState`] the
/// server attaches to every request.
pub fn routes() -> impl Endpoint {
    Route::new()
        .at("/", get(page))
        .at("/config.json", get(settings))
        .at("/:file", get(named))
}

#[handler]
fn page(Data(state): Data<&Arc<AppState>>) -> poem::Result<Response> {
    serve(state, "index.html")
}

#[handler]
fn named(Data(state): Data<&Arc<AppState>>, Path(file): Path<String>) -> poem::Result<Response> {
    serve(state, &file)
}

/// `{"oidc": {authorization_endpoint, token_endpoint, client_id, scopes}}`, or `{"oidc":
/// null}` without single sign-on. Public: it holds no secret (the client is a public one).
#[handler]
fn settings(Data(state): Data<&Arc<AppState>>) -> Response {
    let sso = state.auth.console_sign_in();
    with_headers(Response::builder(), sso)
        .content_type("application/json; charset=utf-8")
        .body(console_settings(sso).to_string())
}

/// The body of `/console/config.json` for these settings.
pub fn console_settings(sso: Option<&OidcConfig>) -> Value {
    json!({
        "oidc": sso.map(|c| json!({
            "authorization_endpoint": c.authorization_endpoint,
            "token_endpoint": c.token_endpoint,
            "client_id": c.console_client_id,
            "scopes": c.scopes,
        })),
    })
}

/// The named asset with the console's headers; any other name is a 404, which the error
/// middleware gives the shared error shape.
fn serve(state: &AppState, name: &str) -> poem::Result<Response> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| poem::Error::from_status(StatusCode::NOT_FOUND))?;
    Ok(
        with_headers(Response::builder(), state.auth.console_sign_in())
            .content_type(asset.content_type)
            .body(asset.body),
    )
}

/// The headers of every console response.
fn with_headers(
    response: poem::ResponseBuilder,
    sso: Option<&OidcConfig>,
) -> poem::ResponseBuilder {
    response
        .header(
            "Content-Security-Policy",
            content_security_policy(sso.map(|c| c.token_endpoint.as_str())),
        )
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "no-referrer")
        // Names are not hashed: revalidate every time so an upgrade is seen at once.
        .header(header::CACHE_CONTROL, "no-cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_sign_on_adds_only_the_token_endpoints_origin_to_connect_src() {
        assert_eq!(content_security_policy(None), CONTENT_SECURITY_POLICY);
        let csp = content_security_policy(Some("https://idp.example:8443/oauth2/token?x=1"));
        assert_eq!(
            csp,
            CONTENT_SECURITY_POLICY.replace(
                "connect-src 'self'",
                "connect-src 'self' https://idp.example:8443"
            )
        );
        // Something that is no URL adds nothing (config validation refuses it anyway).
        assert_eq!(
            content_security_policy(Some("not a url")),
            CONTENT_SECURITY_POLICY
        );
    }
}
