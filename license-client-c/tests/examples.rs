//! The C and C++ examples (`examples/c/`) and the Rust one (`examples/hold_seat.rs`)
//! against a live server: each is built (the C ones with the system `cc` and `c++` against
//! this crate's cdylib), acquires, verifies its lease offline, releases on a normal exit
//! (the seat count drops to 0), and stops with exit code 5 when an administrator evicts it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../license-client/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use license_client::{AcquireRequest, blocking};
use support::{Server, Tenant, cargo_build, eventually, profile_dir};

/// `<workspace>/examples/c`.
fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/c")
}

/// Compiles `source` with `compiler` against the cdylib in `lib_dir`.
fn compile(compiler: &str, standard: &str, source: &str, out: &Path, lib_dir: &Path) {
    let output = Command::new(compiler)
        .arg(standard)
        .args(["-Wall", "-Wextra", "-Werror"])
        .arg(sources().join(source))
        .arg("-I")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("include"))
        .arg("-L")
        .arg(lib_dir)
        .arg("-llicense_client_c")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-o")
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{compiler}` (install a C/C++ compiler): {e}"));
    assert!(
        output.status.success(),
        "{compiler} {source} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

struct Programs {
    paths: Vec<(&'static str, PathBuf)>,
    _dir: tempfile::TempDir,
}

fn build_programs() -> Programs {
    cargo_build("license-client-c", &["--lib"]);
    cargo_build("license-examples", &["--example", "hold_seat"]);
    let lib_dir = profile_dir();
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("hold_seat_c");
    let cpp = dir.path().join("hold_seat_cpp");
    compile("cc", "-std=c11", "hold_seat.c", &c, &lib_dir);
    compile("c++", "-std=c++17", "hold_seat.cpp", &cpp, &lib_dir);
    let rust = lib_dir
        .join("examples")
        .join(format!("hold_seat{}", std::env::consts::EXE_SUFFIX));
    Programs {
        paths: vec![("C", c), ("C++", cpp), ("Rust", rust)],
        _dir: dir,
    }
}

fn start(program: &Path, tenant: &Tenant, key_sets: &Path, hardware_id: &str, work: u32) -> Child {
    Command::new(program)
        .env("LC_SERVER", &tenant.url)
        .env("LC_CREDENTIAL", &tenant.client_key)
        .env("LC_LICENSE_KEY", &tenant.license_key)
        .env("LC_HARDWARE_ID", hardware_id)
        .env("LC_KEY_SET_FILE", key_sets.join("tenant.json"))
        .env("LC_ROOT_KEY_SET_FILE", key_sets.join("root.json"))
        .env("LC_WORK_SECONDS", work.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()))
}

/// Waits up to `timeout` for `child` to exit.
fn finish(mut child: Child, timeout: Duration) -> Output {
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    child.wait_with_output().unwrap()
}

fn sessions_of(tenant: &Tenant, hardware_id: &str) -> Vec<String> {
    tenant
        .live_sessions()
        .iter()
        .filter(|s| s["hardware_id"] == hardware_id)
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_c_cpp_and_rust_examples_hold_verify_obey_an_eviction_and_release() {
    let programs = build_programs();
    let server = Server::start();
    let tenant = Tenant::create(&server, "Acme", 6);
    // The tenant's signing key is made with its first lease: take one so the key set exists.
    let client = blocking::Client::new(&tenant.url, &tenant.client_key).unwrap();
    let first = client
        .acquire(&AcquireRequest::new(&tenant.license_key, "bootstrap"))
        .unwrap();
    client.release(&first.session_id, None).unwrap();
    let key_sets = tempfile::tempdir().unwrap();
    std::fs::write(key_sets.path().join("tenant.json"), tenant.key_set()).unwrap();
    std::fs::write(key_sets.path().join("root.json"), tenant.root_key_set()).unwrap();

    // A normal run of each, side by side: acquire, verify offline, work 2 s, release.
    let normal: Vec<_> = programs
        .paths
        .iter()
        .map(|(name, path)| {
            (
                *name,
                start(path, &tenant, key_sets.path(), &format!("{name}-normal"), 2),
            )
        })
        .collect();
    for (name, child) in normal {
        let output = finish(child, Duration::from_secs(20));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{name}: {stdout}{stderr}");
        assert!(stdout.contains("acquired\n"), "{name}: {stdout}");
        assert!(
            stdout.contains("verified offline (export granted)"),
            "{name}: {stdout}"
        );
        assert!(stdout.ends_with("released\n"), "{name}: {stdout}");
    }
    assert!(
        tenant.live_sessions().is_empty(),
        "every example released its seat"
    );

    // An eviction of each, side by side: each stops within a heartbeat or two (1 s), exit
    // code 5, and takes no seat again.
    let evicted: Vec<_> = programs
        .paths
        .iter()
        .map(|(name, path)| {
            let hardware_id = format!("{name}-evicted");
            let child = start(path, &tenant, key_sets.path(), &hardware_id, 60);
            (*name, hardware_id, child)
        })
        .collect();
    for (name, hardware_id, _) in &evicted {
        assert!(
            eventually(Duration::from_secs(20), || sessions_of(
                &tenant,
                hardware_id
            )
            .len()
                == 1),
            "{name} took its seat"
        );
        let session = sessions_of(&tenant, hardware_id).remove(0);
        tenant.evict(&session, "licence audit");
    }
    for (name, hardware_id, child) in evicted {
        let output = finish(child, Duration::from_secs(10));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(5), "{name}: {stdout}{stderr}");
        assert!(stdout.ends_with("evicted\n"), "{name}: {stdout}");
        assert!(
            sessions_of(&tenant, &hardware_id).is_empty(),
            "{name}: no second seat"
        );
    }
}
