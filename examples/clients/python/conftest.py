"""Fixtures: a live embedded license-server on a free port in a temporary data directory.

The binary is `$LICENSE_SERVER_BIN` (set by examples/clients/test); without it the fixture
builds it with `cargo build -p license-server` (honouring CARGO_TARGET_DIR). The generated
client (./generated, made by ./generate.sh) is put on sys.path here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
GENERATED = HERE / "generated"

if not (GENERATED / "license_server_client" / "__init__.py").exists():
    raise pytest.UsageError(f"no generated client in {GENERATED}: run {HERE / 'generate.sh'} first")
sys.path.insert(0, str(GENERATED))

from license_server_client import Client  # noqa: E402
from license_server_client.api.health import health  # noqa: E402

# The issuer the server is configured with, and the one the test pins when it verifies tokens.
ISSUER = "license-server-sdk-test"
START_TIMEOUT_SECONDS = 30.0


def server_binary() -> Path:
    """`$LICENSE_SERVER_BIN`, else the debug binary cargo builds now."""
    if os.environ.get("LICENSE_SERVER_BIN"):
        return Path(os.environ["LICENSE_SERVER_BIN"])
    subprocess.run(["cargo", "build", "-p", "license-server"], cwd=ROOT, check=True)
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(json.loads(meta.stdout)["target_directory"]) / "debug" / "license-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running server: where it listens, its data directory and the operator credential."""

    base_url: str
    data_dir: Path
    operator_token: str
    process: subprocess.Popen[bytes]
    log: Path


def start(binary: Path, data_dir: Path) -> Server:
    """Starts the server and waits until `GET /api/v1/health/` answers 200 (no fixed sleeps).
    Retries on another port if the chosen one was taken in between."""
    for attempt in range(3):
        port = free_port()
        log = data_dir.parent / f"server-{attempt}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSE_")}
        env.update(
            LICENSE_SERVER__LISTEN=f"127.0.0.1:{port}",
            LICENSE_DATA_DIR=str(data_dir),
            LICENSE_ISSUER=ISSUER,
        )
        with log.open("wb") as out:
            process = subprocess.Popen([str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}"
        probe = Client(base_url=base_url, timeout=httpx.Timeout(2.0))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if health.sync_detailed(client=probe).status_code == 200:
                    token = (data_dir / "operator-token").read_text().strip()
                    return Server(base_url, data_dir, token, process, log)
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        stop(process)
        if "cannot listen" not in log.read_text(errors="replace"):
            break
    raise RuntimeError(f"license-server did not become healthy:\n{log.read_text(errors='replace')}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("license-server") / "data"
    data_dir.mkdir()
    running = start(server_binary(), data_dir)
    try:
        yield running
    finally:
        stop(running.process)
