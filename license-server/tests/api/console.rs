//! The web console: its page and assets come from the binary with a strict CSP (ADR 0033).

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_console_page_is_served_with_a_strict_content_security_policy() {
    let app = spawn_app().await;
    for path in ["/console", "/console/"] {
        let page = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200, "{path}");
        let headers = page.headers().clone();
        assert_eq!(
            headers["content-security-policy"],
            license_server::console::CONTENT_SECURITY_POLICY
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-cache");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = page.text().await.unwrap();
        assert!(html.contains("/console/app.js"), "{html}");
        // No inline script: the CSP would refuse it anyway.
        assert!(!html.contains("<script>"), "{html}");
        // Every file the page names is served.
        for linked in html.split('"').filter(|s| s.starts_with("/console/")) {
            let asset = app.http.get(app.url(linked)).send().await.unwrap();
            assert_eq!(asset.status().as_u16(), 200, "{linked}");
        }
    }
}

#[tokio::test]
async fn the_console_assets_have_their_content_types_and_unknown_ones_are_404() {
    let app = spawn_app().await;
    for (path, content_type) in [
        ("/console/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        let asset = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(asset.status().as_u16(), 200, "{path}");
        let headers = asset.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{path}: {:?}",
            headers["content-type"]
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers.contains_key("content-security-policy"));
    }
    // Only the embedded names exist: nothing is read from disk.
    for path in [
        "/console/nope.js",
        "/console/app.js.map",
        "/console/x/app.js",
    ] {
        let missing = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(missing.status().as_u16(), 404, "{path}");
        let body: serde_json::Value = missing.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{path}");
    }
}

#[tokio::test]
async fn the_console_settings_name_single_sign_on_only_when_configured() {
    let app = spawn_app().await;
    let settings = app
        .http
        .get(app.url("/console/config.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status().as_u16(), 200);
    assert_eq!(
        settings.headers()["content-security-policy"],
        license_server::console::CONTENT_SECURITY_POLICY
    );
    let body: serde_json::Value = settings.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "oidc": null }));

    let sso = crate::helpers::spawn_app_with(|config| {
        let oidc = &mut config.auth.oidc;
        oidc.jwks_url = "https://idp.example/jwks".into();
        oidc.issuer = "https://idp.example".into();
        oidc.audience = "console".into();
        oidc.console_client_id = "console".into();
        oidc.authorization_endpoint = "https://idp.example/authorize".into();
        oidc.token_endpoint = "https://login.idp.example:8443/token".into();
    })
    .await;
    let settings = sso
        .http
        .get(sso.url("/console/config.json"))
        .send()
        .await
        .unwrap();
    let csp = settings.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("connect-src 'self' https://login.idp.example:8443;"),
        "{csp}"
    );
    assert!(csp.contains("form-action 'none'"), "{csp}");
    assert!(
        !csp.contains("idp.example/"),
        "an origin, never a path: {csp}"
    );
    let body: serde_json::Value = settings.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "oidc": {
            "authorization_endpoint": "https://idp.example/authorize",
            "token_endpoint": "https://login.idp.example:8443/token",
            "client_id": "console",
            "scopes": "openid email",
        }})
    );
    // The page carries the same policy as its settings.
    let page = sso.http.get(sso.url("/console")).send().await.unwrap();
    assert_eq!(page.headers()["content-security-policy"], csp.as_str());
}
