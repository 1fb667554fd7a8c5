//! The web console (ADR 0033): a single-page app under `/console`, built from `console/` at the
//! repository root and committed under `license-server/console/`, so it is embedded in the
//! binary and `cargo build` needs no Node. `console/check` fails when the committed build
//! differs from a fresh one.

use poem::{
    Endpoint, Response, Route, get, handler,
    http::{StatusCode, header},
    web::Path,
};

/// The console's Content-Security-Policy: its own origin only, no inline script or style, no
/// framing, no forms posted anywhere; images may be `data:` URLs (uPlot draws on a canvas).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

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

/// The console's routes, to be nested at `/console`: the page at `/` and each asset by name.
pub fn routes() -> impl Endpoint {
    Route::new().at("/", get(page)).at("/:file", get(named))
}

#[handler]
fn page() -> poem::Result<Response> {
    serve("index.html")
}

#[handler]
fn named(Path(file): Path<String>) -> poem::Result<Response> {
    serve(&file)
}

/// The named asset with the console's headers; any other name is a 404, which the error
/// middleware gives the shared error shape.
fn serve(name: &str) -> poem::Result<Response> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| poem::Error::from_status(StatusCode::NOT_FOUND))?;
    Ok(Response::builder()
        .content_type(asset.content_type)
        .header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "no-referrer")
        // Names are not hashed: revalidate every time so an upgrade is seen at once.
        .header(header::CACHE_CONTROL, "no-cache")
        .body(asset.body))
}
