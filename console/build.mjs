// Builds the console into license-server/console/ (committed, embedded in the binary):
// index.html, and ONE app.js and ONE app.css bundled by esbuild from src/ (uPlot's CSS
// included). Deterministic: `console/check` rebuilds and compares with the committed files.
//
//   node build.mjs           (after `npm ci` and the generated API types: see ./check)
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "license-server", "console");

await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: join(here, "src", "main.ts") },
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: true,
  legalComments: "eof",
  sourcemap: false,
  charset: "utf8",
  outdir: out,
  logLevel: "warning",
});
await copyFile(join(here, "src", "index.html"), join(out, "index.html"));
