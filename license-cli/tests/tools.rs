//! Offline verification, local keys and the load scenario, against real servers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use support::{Fixture, LICENSE, Server};

#[test]
fn verify_accepts_a_fresh_lease_and_prints_its_claims() {
    let fixture = Fixture::new(1);
    let lease = fixture.acquire("laptop-9");
    let token = lease["token"].as_str().unwrap();
    let root = format!("{}/.well-known/jwks.json", fixture.server.url);

    // Pinned to the root; the tenant's key set is read from the server by default.
    let verified = fixture
        .server
        .cli()
        .run(&[
            "-o",
            "json",
            "verify",
            token,
            "--tenant",
            &fixture.tenant,
            "--root",
            &root,
            "--license",
            &fixture.license_id,
        ])
        .success()
        .json();
    assert_eq!(verified["valid"], true);
    assert_eq!(verified["claims"]["sub"], lease["session_id"]);
    assert_eq!(verified["claims"]["aud"], fixture.tenant.as_str());
    assert_eq!(verified["claims"]["hwid"], "laptop-9");
    assert_eq!(verified["claims"]["lic"], fixture.license_id.as_str());
    assert_eq!(verified["claims"]["ent"], serde_json::json!(["export"]));

    let table = fixture
        .server
        .cli()
        .run(&["verify", token, "--tenant", &fixture.tenant])
        .success();
    assert!(
        table.stdout.contains("hardware id:  laptop-9"),
        "{}",
        table.stdout
    );
}

/// Another tenant on the fixture's server, with a license and a client key: its lease.
fn other_tenants_lease(fixture: &Fixture) -> (String, String) {
    let created = fixture
        .server
        .operator()
        .run(&["-o", "json", "tenant", "create", "Globex"])
        .success()
        .json();
    let tenant = created["tenant"]["id"].as_str().unwrap().to_owned();
    let admin = created["admin_api_key"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let as_admin = || fixture.server.cli().env("LICENSE_TOKEN", &admin);
    let create = [
        "license",
        "create",
        "--product",
        "Other",
        "--seats",
        "1",
        "--key",
        "GLOBEX-0001",
        "--entitlement",
        "enterprise",
    ];
    // A serial-number key is refused, unless the vendor says it wants it.
    as_admin().run(&create).fails(1, "license_key");
    as_admin()
        .run(&[&create[..], &["--allow-weak-key"]].concat())
        .success();
    let client = as_admin()
        .run(&["-o", "json", "api-key", "create", "--name", "c"])
        .success()
        .json();
    let lease = fixture
        .server
        .cli()
        .env("LICENSE_TOKEN", client["secret"].as_str().unwrap())
        .run(&[
            "-o",
            "json",
            "acquire",
            "--license-key",
            "GLOBEX-0001",
            "--hardware-id",
            "laptop-9",
        ])
        .success()
        .json();
    (tenant, lease["token"].as_str().unwrap().to_owned())
}

#[test]
fn verify_rejects_another_tenant_a_tampered_token_a_wrong_issuer_and_a_foreign_key() {
    let fixture = Fixture::new(1);
    let token = fixture.acquire("laptop-9")["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tenant = fixture.tenant.as_str();
    let root = format!("{}/.well-known/jwks.json", fixture.server.url);
    let cli = || fixture.server.cli();

    // Tenant B's lease, for the same machine, fails for tenant A: by A's key set, pinned or
    // not, and by B's key set used for A.
    let (other, other_token) = other_tenants_lease(&fixture);
    cli()
        .run(&["verify", &other_token, "--tenant", tenant])
        .fails(4, "unknown key id");
    cli()
        .run(&["verify", &other_token, "--tenant", tenant, "--root", &root])
        .fails(4, "unknown key id");
    let other_jwks = format!("{}/api/v1/tenants/{other}/jwks.json", fixture.server.url);
    cli()
        .run(&[
            "verify",
            &other_token,
            "--tenant",
            tenant,
            "--jwks",
            &other_jwks,
        ])
        .fails(4, "is the key set of tenant");
    cli()
        .run(&["verify", &other_token, "--tenant", &other])
        .success();
    // A's lease is not for another license.
    cli()
        .run(&[
            "verify",
            &token,
            "--tenant",
            tenant,
            "--license",
            &fixture_other_license(),
        ])
        .fails(4, "is for license");

    // Another machine's id in the claims, the signature left as it was.
    let parts: Vec<&str> = token.split('.').collect();
    let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let forged = claims.replace("laptop-9", "laptop-1");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged),
        parts[2]
    );
    cli()
        .run(&["verify", &tampered, "--tenant", tenant])
        .fails(4, "invalid token: signature does not verify");
    cli()
        .run(&[
            "verify",
            &token,
            "--tenant",
            tenant,
            "--issuer",
            "someone-else",
        ])
        .fails(4, "is not trusted");

    // The root set holds no lease key; another server's root certifies nothing here.
    cli()
        .run(&["verify", &token, "--tenant", tenant, "--jwks", &root])
        .fails(4, "unknown key id");
    let elsewhere = Server::start();
    let foreign_root = format!("{}/.well-known/jwks.json", elsewhere.url);
    cli()
        .run(&[
            "verify",
            &token,
            "--tenant",
            tenant,
            "--root",
            &foreign_root,
        ])
        .fails(4, "not a root key");
    cli()
        .run(&[
            "verify",
            &token,
            "--tenant",
            tenant,
            "--jwks",
            "/no/such/jwks.json",
        ])
        .fails(1, "cannot read the key set file");
    cli()
        .run(&["verify", &token, "--tenant", "not-an-id"])
        .fails(2, "is not a tenant id");
}

/// A license id that is not the fixture's.
fn fixture_other_license() -> String {
    "0196a2b4-0000-7000-8000-000000000001".to_owned()
}

#[test]
fn keys_generate_writes_a_private_key_that_the_server_signs_with() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let key = data.join("signing-key-es256.pk8");
    let key_arg = key.to_str().unwrap();
    let keys = || {
        let mut command = std::process::Command::new(LICENSE);
        command.env_remove("LICENSE_TOKEN");
        command
    };

    let out = keys()
        .args([
            "-o",
            "json",
            "keys",
            "generate",
            "--algorithm",
            "ES256",
            "--out",
            key_arg,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(generated["server_file_name"], "signing-key-es256.pk8");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // No overwrite without --force.
    let before = std::fs::read(&key).unwrap();
    let refused = keys()
        .args(["keys", "generate", "--algorithm", "ES256", "--out", key_arg])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    assert_eq!(std::fs::read(&key).unwrap(), before);
    let forced = keys()
        .args([
            "-o",
            "json",
            "keys",
            "generate",
            "--algorithm",
            "ES256",
            "--out",
            key_arg,
            "--force",
        ])
        .output()
        .unwrap();
    assert!(forced.status.success());
    assert_ne!(std::fs::read(&key).unwrap(), before);
    let generated: serde_json::Value = serde_json::from_slice(&forced.stdout).unwrap();
    let jwk = generated["public_jwk"].clone();

    // The server loads the file as its root; the printed JWK is what applications pin.
    let server = Server::start_with(home, &[("LICENSE_SIGNER__ALGORITHM", "ES256")]);
    let (status, body) = support::http_get(server.addr, "/.well-known/jwks.json").unwrap();
    assert_eq!(status, 200);
    let served: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(served["keys"][0]["kid"], generated["kid"]);

    let created = server
        .operator()
        .run(&["-o", "json", "tenant", "create", "T"])
        .success()
        .json();
    let admin = created["admin_api_key"]["secret"].as_str().unwrap();
    let as_admin = || server.cli().env("LICENSE_TOKEN", admin);
    as_admin()
        .run(&[
            "license",
            "create",
            "--product",
            "P",
            "--seats",
            "1",
            "--key",
            "KEYTEST-7QX2M-9KD4P-VTH8W",
        ])
        .success();
    let client = as_admin()
        .run(&["-o", "json", "api-key", "create", "--name", "c"])
        .success()
        .json();
    let lease = server
        .cli()
        .env("LICENSE_TOKEN", client["secret"].as_str().unwrap())
        .run(&[
            "-o",
            "json",
            "acquire",
            "--license-key",
            "KEYTEST-7QX2M-9KD4P-VTH8W",
            "--hardware-id",
            "h",
        ])
        .success()
        .json();
    // The key is the root: pinned to the printed JWK, the tenant's key set checks out.
    let jwks_file = server.home.path().join("jwks.json");
    std::fs::write(&jwks_file, serde_json::json!({ "keys": [jwk] }).to_string()).unwrap();
    let tenant = created["tenant"]["id"].as_str().unwrap();
    let verified = server
        .cli()
        .run(&[
            "-o",
            "json",
            "verify",
            lease["token"].as_str().unwrap(),
            "--tenant",
            tenant,
            "--root",
            jwks_file.to_str().unwrap(),
        ])
        .success()
        .json();
    assert_eq!(verified["claims"]["hwid"], "h");
}

#[test]
fn bench_runs_every_client_through_its_cycle_and_reports_percentiles() {
    let fixture = Fixture::new(5);
    let report = fixture
        .client()
        .run(&[
            "bench",
            "--license-key",
            &fixture.license_key,
            "--clients",
            "20",
            "--concurrency",
            "4",
            "--heartbeats",
            "2",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(report["clients_completed"], 20);
    assert_eq!(report["requests_ok"], 20 * 4);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["no_seats"], 0);
    let acquire = &report["operations"]["acquire"];
    assert_eq!(acquire["ok"], 20);
    assert_eq!(report["operations"]["heartbeat"]["ok"], 40);
    assert!(acquire["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(acquire["p99_ms"].as_f64().unwrap() >= acquire["p50_ms"].as_f64().unwrap());
    assert!(report["throughput_per_second"].as_f64().unwrap() > 0.0);
    assert!(
        fixture.live_sessions().is_empty(),
        "every bench seat was released"
    );

    let table = fixture
        .client()
        .run(&[
            "bench",
            "--license-key",
            &fixture.license_key,
            "--clients",
            "2",
        ])
        .success();
    assert!(table.stdout.contains("P99 MS"), "{}", table.stdout);
}

#[test]
fn bench_counts_402s_apart_from_errors() {
    let fixture = Fixture::new(1);
    fixture.acquire("holds-the-only-seat");
    let report = fixture
        .client()
        .run(&[
            "bench",
            "--license-key",
            &fixture.license_key,
            "--clients",
            "6",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(report["no_seats"], 6);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["clients_completed"], 0);
}

#[test]
fn bench_is_bounded_and_local_by_default() {
    let fixture = Fixture::new(5);
    let report = fixture
        .client()
        .run(&[
            "bench",
            "--license-key",
            &fixture.license_key,
            "--clients",
            "100",
            "--heartbeats",
            "3",
            "--requests",
            "12",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(
        report["clients_planned"], 2,
        "12 requests fit two clients of 5"
    );
    assert!(report["requests"].as_u64().unwrap() <= 12);

    fixture
        .client()
        .run(&[
            "bench",
            "--license-key",
            &fixture.license_key,
            "--server",
            "http://192.0.2.1:8080",
        ])
        .fails(2, "not a loopback address");
    fixture
        .server
        .operator()
        .run(&[
            "bench",
            "--license-key",
            &fixture.license_key,
            "--clients",
            "2",
        ])
        .fails(1, "every request failed (most often acquire:forbidden");
}
