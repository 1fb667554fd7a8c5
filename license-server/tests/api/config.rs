//! Configuration: the layering order, and the example the binary prints.

use std::process::Command;

use license_server::Config;
use license_server::config::{Origin, Sources};

#[test]
fn layers_apply_in_order_defaults_file_env_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("license.toml");
    std::fs::write(
        &file,
        r#"
issuer = "from-file"
data_dir = "/from/file"
[server]
listen = "127.0.0.1:1001"
[log]
filter = "debug"
"#,
    )
    .unwrap();
    let env = [
        ("LICENSE_DATA_DIR", "/from/env"),
        ("LICENSE_SERVER__LISTEN", "127.0.0.1:1002"),
        ("LICENSE_REAPER__BATCH", "42"),
    ];
    let sources = Sources {
        file: Some(file.clone()),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        flags: Vec::new(),
    }
    .flag("server.listen", "--listen", "127.0.0.1:1003");

    let loaded = Config::load(&sources).unwrap();
    let config = &loaded.config;
    assert_eq!(
        config.server.listen.to_string(),
        "127.0.0.1:1003",
        "flags win"
    );
    assert_eq!(
        config.data_dir.to_str(),
        Some("/from/env"),
        "env beats the file"
    );
    assert_eq!(config.reaper.batch, 42);
    assert_eq!(config.issuer, "from-file", "the file beats the defaults");
    assert_eq!(config.log.filter, "debug");
    assert_eq!(config.server.body_limit_bytes, 65536, "the default stays");

    assert_eq!(
        loaded.origins["server.listen"],
        Origin::Flag("--listen".into())
    );
    assert_eq!(
        loaded.origins["data_dir"],
        Origin::Env("LICENSE_DATA_DIR".into())
    );
    assert_eq!(loaded.origins["issuer"], Origin::File(file));
    assert_eq!(loaded.origins["server.body_limit_bytes"], Origin::Default);
}

#[test]
fn the_printed_example_parses_back_to_the_defaults() {
    let output = Command::new(env!("CARGO_BIN_EXE_license-server"))
        .args(["config", "example"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.toml");
    std::fs::write(&file, &output.stdout).unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("LICENSE_SERVER__LISTEN"));
    let loaded = Config::load(&Sources {
        file: Some(file),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(loaded.config, Config::default());
}

#[test]
fn the_openapi_command_prints_the_document() {
    let output = Command::new(env!("CARGO_BIN_EXE_license-server"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(output.status.success());
    let spec: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        spec["openapi"].as_str().map(|v| v.starts_with('3')),
        Some(true)
    );
}
