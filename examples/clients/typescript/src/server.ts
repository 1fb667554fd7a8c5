// A live embedded license-server for the tests: a free port, a temporary data directory, the
// default embedded stack (SQLite, in-process seat ledger, local EdDSA key). The binary is
// $LICENSE_SERVER_BIN (set by examples/clients/test); build it with `cargo build -p
// license-server` otherwise.

import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";

import createClient from "openapi-fetch";

import type { paths } from "./generated/openapi.js";

/** The issuer the server is configured with, and the one the tests pin. */
export const ISSUER = "license-server-sdk-test";

const START_TIMEOUT_MS = 30_000;

export interface Server {
  baseUrl: string;
  operatorToken: string;
  dataDir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const address = probe.address();
  probe.close();
  await once(probe, "close");
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Starts the server and waits until GET /api/v1/health/ answers 200 (no fixed sleeps). */
export async function startServer(): Promise<Server> {
  const binary = process.env.LICENSE_SERVER_BIN;
  if (!binary) throw new Error("set LICENSE_SERVER_BIN to the license-server binary (cargo build -p license-server)");
  const dir = await mkdtemp(join(tmpdir(), "license-server-ts-"));
  const dataDir = join(dir, "data");
  let lastLog = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const logPath = join(dir, `server-${attempt}.log`);
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith("LICENSE_")),
    );
    Object.assign(env, {
      LICENSE_SERVER__LISTEN: `127.0.0.1:${port}`,
      LICENSE_DATA_DIR: dataDir,
      LICENSE_ISSUER: ISSUER,
    });
    const log = createWriteStream(logPath);
    await once(log, "open");
    const child = spawn(binary, [], { env, stdio: ["ignore", log, log] });
    const baseUrl = `http://127.0.0.1:${port}`;
    const probe = createClient<paths>({ baseUrl });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const { response } = await probe.GET("/api/v1/health", { signal: AbortSignal.timeout(2_000) });
        if (response.status === 200) {
          const operatorToken = (await readFile(join(dataDir, "operator-token"), "utf8")).trim();
          return {
            baseUrl,
            operatorToken,
            dataDir,
            async stop() {
              await stopProcess(child);
              log.close();
              await rm(dir, { recursive: true, force: true });
            },
          };
        }
      } catch {
        // Not listening yet.
      }
      await sleep(50);
    }
    await stopProcess(child);
    log.close();
    lastLog = await readFile(logPath, "utf8");
    if (!lastLog.includes("cannot listen")) break;
  }
  throw new Error(`license-server did not become healthy:\n${lastLog}`);
}
