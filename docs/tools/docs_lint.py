#!/usr/bin/env python3
"""Checks for docs/check (Python 3 standard library only).

Usage: docs_lint.py <check> [args]

  links                 relative links and #anchors in docs/ and the READMEs resolve
  routes                every /api/v1/... route a doc names is in docs/openapi.json
  snippets              every ```rust block equals a marked region of a file under examples/
  crates                the crate graph in docs/architecture.md equals the workspace's
  cli <license-binary>  every `license ...` command in a code block parses (`--help`)
  mermaid-extract <dir> write each ```mermaid block to <dir>/<sha>.mmd, list them on stdout

Each check prints problems as `file:line: message` on stderr and one summary line on stdout;
the exit status is 1 when it found a problem.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


def doc_files() -> list[Path]:
    """Every Markdown file the checks read: docs/**, README.md, examples/**/README.md, benches."""
    files = sorted((ROOT / "docs").rglob("*.md"))
    files.append(ROOT / "README.md")
    files += sorted(
        p for p in (ROOT / "examples").rglob("README.md") if "node_modules" not in p.parts
    )
    files.append(ROOT / "benches" / "README.md")
    return [f for f in files if f.is_file()]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def blocks(path: Path):
    """Yields (language, first line number, lines) for each fenced code block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3).lower()
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence[0] * len(fence)):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        yield lang, start + 1, body
        i += 1


def prose_lines(path: Path):
    """Yields (line number, text) for lines outside fenced code blocks."""
    in_fence = None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = FENCE.match(line)
        if in_fence is None and m:
            in_fence = m.group(2)[0] * len(m.group(2))
            continue
        if in_fence is not None:
            if line.strip().startswith(in_fence):
                in_fence = None
            continue
        yield n, line


def report(problems: list[str], summary_ok: str, what: str) -> int:
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} {what}")
        return 1
    print(summary_ok)
    return 0


# --- links ---------------------------------------------------------------------------------

def slug(heading: str, seen: dict[str, int]) -> str:
    """GitHub's heading anchor: lower case, markup dropped, punctuation removed, spaces to -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links -> their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "").replace("~", "")
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # emphasis underscores, not snake_case
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text, flags=re.UNICODE)
    text = text.replace(" ", "-")
    n = seen.get(text, 0)
    seen[text] = n + 1
    return text if n == 0 else f"{text}-{n}"


def anchors(path: Path, cache: dict[Path, set[str]]) -> set[str]:
    if path not in cache:
        seen: dict[str, int] = {}
        found = set()
        for _, line in prose_lines(path):
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                found.add(slug(m.group(1), seen))
            for a in re.findall(r'<a\s+(?:name|id)="([^"]+)"', line):
                found.add(a)
        cache[path] = found
    return cache[path]


LINK = re.compile(r"(?<!\\)!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")


def check_links() -> int:
    problems = []
    cache: dict[Path, set[str]] = {}
    count = 0
    for doc in doc_files():
        for n, line in prose_lines(doc):
            code_free = re.sub(r"`[^`]*`", "", line)
            targets = LINK.findall(code_free)
            m = REF_DEF.match(code_free)
            if m:
                targets.append(m.group(1))
            for target in targets:
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, mailto:, ...
                    continue
                count += 1
                raw_path, _, fragment = target.partition("#")
                raw_path = urllib.parse.unquote(raw_path)
                if raw_path.startswith("/"):
                    dest = ROOT / raw_path.lstrip("/")
                elif raw_path:
                    dest = (doc.parent / raw_path).resolve()
                else:
                    dest = doc
                where = f"{rel(doc)}:{n}"
                if not dest.exists():
                    problems.append(f"{where}: dead link {target!r} (no {dest})")
                    continue
                try:
                    dest.relative_to(ROOT)
                except ValueError:
                    problems.append(f"{where}: link {target!r} leaves the repository")
                    continue
                if fragment:
                    if dest.is_dir() or dest.suffix.lower() != ".md":
                        if not re.fullmatch(r"L\d+(-L\d+)?", fragment):
                            problems.append(f"{where}: anchor on a non-Markdown target {target!r}")
                        continue
                    if fragment.lower() not in anchors(dest, cache):
                        problems.append(f"{where}: no heading for anchor #{fragment} in {rel(dest)}")
    return report(problems, f"{count} relative links and anchors resolve", "dead links or anchors")


# --- routes --------------------------------------------------------------------------------

ROUTE = re.compile(
    r"(?:\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+)?"
    r"(/api/v1(?:/(?:<[\w-]+>|[A-Za-z0-9_.{}:$-]+))*/?)"
)


def norm_route(path: str) -> str:
    path = path.rstrip("/") or "/"
    parts = []
    for seg in path.split("/"):
        if re.fullmatch(r"\{[^}]*\}|:[A-Za-z_]\w*|<[^>]*>|\$\{?[A-Za-z_]\w*\}?", seg):
            seg = "{}"
        parts.append(seg)
    return "/".join(parts)


def check_routes() -> int:
    spec = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    known: dict[str, set[str]] = {}
    for path, ops in spec.get("paths", {}).items():
        known.setdefault(norm_route(path), set()).update(m.upper() for m in ops)
    problems = []
    count = 0
    for doc in doc_files():
        if doc.name == "openapi.json":
            continue
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for method, path in ROUTE.findall(line):
                path = re.sub(r"[.:,;)]+$", "", path)  # sentence punctuation
                path = path.split("?")[0]
                count += 1
                key = norm_route(path)
                if key not in known:
                    # A prefix like `/api/v1/admin/` names a group of routes.
                    if line_names_prefix(path) and any(k.startswith(key + "/") for k in known):
                        continue
                    problems.append(f"{rel(doc)}:{n}: route {method + ' ' if method else ''}{path} is not in docs/openapi.json")
                elif method and method not in known[key]:
                    problems.append(f"{rel(doc)}:{n}: {method} {path}: docs/openapi.json has only {sorted(known[key])}")
    return report(problems, f"{count} route mentions exist in docs/openapi.json", "routes not in docs/openapi.json")


def line_names_prefix(path: str) -> bool:
    return path.endswith("/") or path.rstrip("/").count("/") <= 3


# --- rust snippets -------------------------------------------------------------------------

def example_regions() -> dict[str, tuple[str, str]]:
    """`// <TAG>:<name>:start` ... `// <TAG>:<name>:end` regions in examples/**/*.rs, as tokens."""
    regions = {}
    for src in sorted((ROOT / "examples").rglob("*.rs")):
        text = src.read_text(encoding="utf-8").splitlines()
        start = None
        for i, line in enumerate(text):
            m = re.match(r"\s*//\s*([A-Z]+:[\w-]+):(start|end)\s*$", line)
            if not m:
                continue
            if m.group(2) == "start":
                start = (m.group(1), i)
            elif start and start[0] == m.group(1):
                body = textwrap.dedent("\n".join(text[start[1] + 1 : i])).strip("\n")
                regions[rust_tokens(body)] = (rel(src), m.group(1))
                start = None
    return regions


def rust_tokens(code: str) -> tuple[str, ...]:
    """The code's tokens: equal for the same code wrapped differently (rustfmt vs a README)."""
    return tuple(re.findall(r"\w+|\S", code))


def check_snippets() -> int:
    regions = example_regions()
    problems = []
    count = 0
    for doc in doc_files():
        for lang, n, body in blocks(doc):
            if lang not in ("rust", "rs"):
                continue
            count += 1
            text = textwrap.dedent("\n".join(body)).strip("\n")
            if rust_tokens(text) not in regions:
                hint = ""
                if doc.name == "README.md" and doc.parent == ROOT:
                    hint = " (expected the region between `// README:embed:start` and `// README:embed:end` in examples/embed.rs)"
                problems.append(
                    f"{rel(doc)}:{n}: this rust block is not a marked region of a file under examples/{hint}; "
                    "copy it from one, or make it a doctest in the crate"
                )
    return report(
        problems,
        f"{count} rust snippets equal marked regions of examples/ token for token ({len(regions)} regions)",
        "rust snippets not taken from examples/",
    )


# --- crate graph ---------------------------------------------------------------------------

def check_crates() -> int:
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    meta = json.loads(out)
    members = {p["name"] for p in meta["packages"]}
    actual = set()
    for p in meta["packages"]:
        for d in p["dependencies"]:
            if d["name"] in members and d["name"] != p["name"]:
                kind = "dev" if d.get("kind") == "dev" else "normal"
                actual.add((p["name"], d["name"], kind))
    # A normal dependency also listed as dev (with extra features) is drawn once, solid.
    actual = {e for e in actual if not (e[2] == "dev" and (e[0], e[1], "normal") in actual)}

    doc = ROOT / "docs" / "architecture.md"
    text = doc.read_text(encoding="utf-8")
    m = re.search(r"<!-- crate-graph:start -->(.*?)<!-- crate-graph:end -->", text, re.S)
    if not m:
        return report([f"{rel(doc)}: no <!-- crate-graph:start --> ... <!-- crate-graph:end --> section"], "", "problems")
    ids: dict[str, str] = {}
    drawn = set()
    for line in m.group(1).splitlines():
        for node, label in re.findall(r"(\w+)\[\"?([\w-]+)\"?\]", line):
            ids[node] = label
    for line in m.group(1).splitlines():
        e = re.match(r"\s*(\w+)(?:\[[^\]]*\])?\s*(-->|-\.->)\s*(\w+)", line)
        if e:
            a, arrow, b = e.groups()
            drawn.add((ids.get(a, a), ids.get(b, b), "normal" if arrow == "-->" else "dev"))
    problems = []
    for name in sorted(members - set(ids.values())):
        problems.append(f"{rel(doc)}: crate graph lacks the workspace member {name}")
    for name in sorted(set(ids.values()) - members):
        problems.append(f"{rel(doc)}: crate graph names {name}, which is no workspace member")
    for a, b, k in sorted(actual - drawn):
        problems.append(f"{rel(doc)}: crate graph lacks {a} -> {b} ({k} dependency)")
    for a, b, k in sorted(drawn - actual):
        problems.append(f"{rel(doc)}: crate graph draws {a} -> {b} ({k}), which Cargo.toml does not have")
    return report(problems, f"crate graph matches the workspace ({len(members)} crates, {len(actual)} edges)", "crate-graph mismatches")


# --- CLI commands --------------------------------------------------------------------------

GLOBAL_WITH_VALUE = {"--server", "--token", "--as-tenant", "-o", "--output"}


def command_lines():
    for doc in doc_files():
        for lang, n, body in blocks(doc):
            if lang == "mermaid":
                continue
            for offset, line in enumerate(body):
                s = line.strip()
                if s.startswith("$ "):
                    s = s[2:].lstrip()
                if s.startswith("license ") or s == "license":
                    yield doc, n + offset, s


def words(command: str) -> list[str]:
    out = []
    for w in command.split()[1:]:
        if w in ("|", "&&", "||", ";", ">", "2>&1", "\\") or w.startswith(("#", ">", "|")):
            break
        out.append(w)
    return out


def check_cli(binary: str) -> int:
    children: dict[tuple[str, ...], list[str] | None] = {}
    # Commands that take arguments of their own besides subcommands (`license usage ID`).
    takes_args: set[tuple[str, ...]] = set()

    def subcommands(path: tuple[str, ...]) -> list[str] | None:
        """The subcommands of `license <path>` from its --help; None if --help fails."""
        if path not in children:
            r = subprocess.run([binary, *path, "--help"], capture_output=True, text=True)
            if r.returncode != 0:
                children[path] = None
            else:
                usage = next((l for l in r.stdout.splitlines() if l.startswith("Usage:")), "")
                if re.search(r"[<\[](?!OPTIONS\]|COMMAND[>\]])[A-Z_]+[>\]]", usage):
                    takes_args.add(path)
                names, in_commands = [], False
                for line in r.stdout.splitlines():
                    if line.strip() == "Commands:":
                        in_commands = True
                        continue
                    if in_commands:
                        m = re.match(r"^  (\S+)", line)
                        if not m:
                            if line.strip() and not line.startswith(" "):
                                in_commands = False
                            continue
                        names.append(m.group(1))
                children[path] = [c for c in names if c != "help"]
        return children[path]

    problems = []
    count = 0
    for doc, n, command in command_lines():
        count += 1
        ws = words(command)
        # Global flags may come before the subcommand.
        while ws and ws[0].startswith("-"):
            flag = ws.pop(0)
            if flag in GLOBAL_WITH_VALUE and ws:
                ws.pop(0)
        path: tuple[str, ...] = ()
        while True:
            subs = subcommands(path)
            if subs is None:
                problems.append(f"{rel(doc)}:{n}: `license {' '.join(path)} --help` fails: {command}")
                break
            if not subs:
                break  # a leaf: the rest are its arguments
            if not ws or ws[0].startswith("-") and ws[0] not in ("--help", "-h", "--version", "-V"):
                if not ws and not path:
                    break
                if ws and ws[0].startswith("-"):
                    break  # flags of a command with subcommands (e.g. `license --version`)
                problems.append(f"{rel(doc)}:{n}: `license {' '.join(path)}` needs a subcommand: {command}")
                break
            word = ws.pop(0)
            if word in ("--help", "-h", "--version", "-V"):
                break
            if path in takes_args and word not in subs:
                break  # the command's own argument (`license usage LICENSE_ID --by user`)
            if re.match(r"^[<$\"'{\[]", word) or word not in subs:
                problems.append(
                    f"{rel(doc)}:{n}: `license {' '.join(path + (word,))}` is no subcommand "
                    f"(`license {' '.join(path)}` has: {', '.join(subs)}): {command}"
                )
                break
            path += (word,)
    checked = sum(1 for v in children.values() if v is not None)
    return report(problems, f"{count} license commands parse ({checked} subcommand --help pages read)", "license commands that do not parse")


# --- mermaid extraction --------------------------------------------------------------------

def mermaid_extract(out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for doc in doc_files():
        for lang, n, body in blocks(doc):
            if lang != "mermaid":
                continue
            text = "\n".join(body).strip() + "\n"
            sha = hashlib.sha256(text.encode()).hexdigest()[:20]
            (out / f"{sha}.mmd").write_text(text, encoding="utf-8")
            print(f"{sha}\t{rel(doc)}:{n}")
    return 0


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    check, args = argv[0], argv[1:]
    if check == "links":
        return check_links()
    if check == "routes":
        return check_routes()
    if check == "snippets":
        return check_snippets()
    if check == "crates":
        return check_crates()
    if check == "cli":
        return check_cli(args[0])
    if check == "mermaid-extract":
        return mermaid_extract(args[0])
    print(f"unknown check {check!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
