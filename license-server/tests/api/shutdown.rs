//! The binary: embedded defaults on a free port, and a clean exit on SIGTERM.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Kills the child if the test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn the_binary_starts_on_defaults_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_license-server"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--data-dir",
            ])
            .arg(&data_dir)
            .env_remove("LICENSE_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();

    // Read the start-up log until the docs URL is announced (no sleeping).
    let mut addr = None;
    let mut operator_file = None;
    for line in lines.by_ref() {
        let entry: Value = serde_json::from_str(&line.unwrap()).unwrap();
        match entry["message"].as_str().unwrap_or_default() {
            "license-server listening" => addr = entry["addr"].as_str().map(str::to_owned),
            m if m.starts_with("operator credential") => {
                operator_file = entry["path"].as_str().map(str::to_owned);
            }
            "API docs" => break,
            _ => {}
        }
    }
    let addr = addr.expect("the listening address is logged");
    let operator_file = operator_file.expect("the operator credential's file is logged");
    assert!(
        std::fs::read_to_string(&operator_file)
            .unwrap()
            .starts_with("op_")
    );
    assert!(data_dir.join("signing-key-eddsa.pk8").exists());

    // The server answers while it runs.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        reqwest::get(format!("http://{addr}/api/v1/health/"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status.as_u16(), 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = child.0.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("license-server stopped")),
        "{rest:?}"
    );
}
