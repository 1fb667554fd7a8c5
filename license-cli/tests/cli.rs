//! The connection settings, `license login`, error reporting, help and completions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{LICENSE, Server};

#[test]
fn login_saves_a_private_config_that_later_commands_use() {
    let server = Server::start();
    let token_file = server.data_dir.join("operator-token");
    server
        .cli()
        .run(&[
            "login",
            "--server",
            &server.url,
            "--token-file",
            token_file.to_str().unwrap(),
        ])
        .success();
    let path = server.config_home().join("license").join("config.toml");
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(saved.contains(&server.operator_token), "{saved}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // No --server, no --token: both come from the file.
    let cli = server.cli().env_remove("LICENSE_SERVER");
    let run = cli
        .run(&["-o", "json", "tenant", "create", "From the file"])
        .success();
    assert_eq!(run.json()["tenant"]["name"], "From the file");

    // The environment wins over the file, and a flag wins over the environment.
    server
        .cli()
        .env("LICENSE_TOKEN", "op_not_the_token")
        .run(&["tenant", "list"])
        .fails(1, "(unauthenticated)");
    server
        .cli()
        .env("LICENSE_TOKEN", "op_not_the_token")
        .run(&["--token", &server.operator_token, "tenant", "list"])
        .success();
}

#[test]
fn login_refuses_a_bad_credential_and_saves_nothing() {
    let server = Server::start();
    server
        .cli()
        .run(&["login", "--token", "op_wrong"])
        .fails(1, "(unauthenticated)");
    assert!(
        !server
            .config_home()
            .join("license")
            .join("config.toml")
            .exists()
    );
    server.cli().run(&["login"]).fails(2, "--token");
}

#[test]
fn login_with_a_tenant_key_names_the_credential_kind() {
    let server = Server::start();
    let created = server
        .operator()
        .run(&["-o", "json", "tenant", "create", "Vendor"])
        .success()
        .json();
    let key = created["admin_api_key"]["secret"].as_str().unwrap();
    let run = server
        .cli()
        .run(&["-o", "json", "login", "--token", key])
        .success();
    assert_eq!(run.json()["credential"], "api_key");
}

#[test]
fn an_unreachable_server_is_one_line_and_exit_code_1() {
    // Bound and closed: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server::start();
    server
        .operator()
        .env("RUST_BACKTRACE", "1")
        .env("LICENSE_SERVER", format!("http://127.0.0.1:{port}"))
        .run(&["tenant", "list"])
        .fails(1, "cannot reach the server at http://127.0.0.1:");
}

#[test]
fn the_operator_is_told_to_name_a_tenant() {
    let server = Server::start();
    server
        .operator()
        .run(&["license", "list"])
        .fails(1, "pass --as-tenant ID or set LICENSE_TENANT");
}

#[test]
fn help_documents_the_exit_codes() {
    let output = std::process::Command::new(LICENSE)
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("3    no seat is free"), "{help}");
    assert!(help.contains("run: the command's exit status"), "{help}");
}

#[test]
fn bad_usage_exits_with_code_2() {
    let output = std::process::Command::new(LICENSE)
        .args(["license", "create", "--seats", "many"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn completions_are_printed_for_each_shell() {
    let run = |shell: &str| {
        std::process::Command::new(LICENSE)
            .args(["completions", shell])
            .output()
            .unwrap()
    };
    let bash = run("bash");
    assert!(bash.status.success());
    assert!(String::from_utf8_lossy(&bash.stdout).contains("_license()"));
    let zsh = run("zsh");
    assert!(String::from_utf8_lossy(&zsh.stdout).starts_with("#compdef license"));
    assert_eq!(run("tcsh").status.code(), Some(2));
}
