#!/usr/bin/env python3
"""Offline checks of the container image's recipe (run by deploy/check; no Docker needed).

1. The build stage, reproduced: the release build documented in docs/deploy.md ("Building the
   image's binaries without Docker") is exactly the Dockerfile's: the same CARGO_* profile
   settings from its ENV lines and the same `cargo build` flags and packages, and `cargo chef
   cook` prepares the same packages. So a plain `cargo build` outside Docker makes the same
   binaries, and a change to one side that forgets the other fails here.
2. The runtime stage's assumptions (docs/deploy.md, "The runtime image"): distroless `:nonroot`
   base (no shell, no package manager), so no RUN and an exec-form ENTRYPOINT; numeric USER
   65532:65532, the same UID and GID the Deployment's securityContext asks for; only the two
   binaries copied in; the container port the Deployment declares; and the Deployment keeps the
   root filesystem read-only with the data directory and /tmp on emptyDirs.
"""

import re
import shlex
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy/docker/Dockerfile"
DOC = ROOT / "docs/deploy.md"
DEPLOYMENT = ROOT / "deploy/k8s/base/deployment.yaml"
DOC_MARK = "<!-- image-build: the Dockerfile's build stage, checked by deploy/tools/check_image.py -->"


def instructions(text):
    """(stage, instruction, arguments) per Dockerfile instruction, continuations joined."""
    out, stage, buf = [], None, ""
    for line in text.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        buf += line.rstrip("\\").strip() + " " if line.rstrip().endswith("\\") else line.strip()
        if line.rstrip().endswith("\\"):
            continue
        word, _, rest = buf.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.search(r"\bAS\s+(\S+)", rest, re.I)
            stage = m.group(1) if m else rest
        out.append((stage, word, rest.strip()))
        buf = ""
    return out


def main():
    errors = []
    ins = instructions(DOCKERFILE.read_text())
    froms = {stage: args for stage, word, args in ins if word == "FROM"}

    # 1. the build.
    env = {}
    for stage, word, args in ins:
        if word == "ENV" and stage in ("chef", "builder"):
            for pair in shlex.split(args):
                k, _, v = pair.partition("=")
                env[k] = v
    profile = {k: v for k, v in env.items() if k.startswith("CARGO_PROFILE_") or k in ("RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS")}
    builds = [args for stage, word, args in ins if word == "RUN" and stage == "builder" and "cargo build" in args]
    cooks = [args for stage, word, args in ins if word == "RUN" and stage == "builder" and "cargo chef cook" in args]
    if len(builds) != 1 or len(cooks) != 1:
        errors.append("the builder stage must have exactly one `cargo chef cook` and one `cargo build`")
        build = cook = ""
    else:
        build = builds[0].split("&&")[0].strip()
        cook = cooks[0]
    packages = re.findall(r"--package\s+(\S+)", build)
    if sorted(packages) != sorted(re.findall(r"--package\s+(\S+)", cook)):
        errors.append(f"cargo chef cook prepares other packages than cargo build builds ({packages})")
    for flag in ("--release", "--locked"):
        if flag not in build.split():
            errors.append(f"the Dockerfile's cargo build lacks {flag}")
    expected = " ".join([*(f"{k}={v}" for k, v in sorted(profile.items())), build])
    doc = DOC.read_text()
    if DOC_MARK not in doc:
        errors.append(f"docs/deploy.md lacks the marker {DOC_MARK}")
    else:
        block = re.search(r"```sh\n(.*?)```", doc.split(DOC_MARK, 1)[1], re.S)
        documented = " ".join(block.group(1).replace("\\\n", " ").split()) if block else ""
        if documented != " ".join(expected.split()):
            errors.append(f"docs/deploy.md documents\n     {documented}\n   but the Dockerfile builds with\n     {expected}")

    # 2. the runtime stage.
    runtime = [(word, args) for stage, word, args in ins if stage == "runtime"]
    base = froms.get("runtime", "")
    if not re.match(r"gcr\.io/distroless/[a-z0-9-]+:nonroot(@sha256:[0-9a-f]{64})?\s+AS\s+runtime$", base, re.I):
        errors.append(f"the runtime stage must be a distroless :nonroot image, not {base!r}")
    if any(word in ("RUN", "SHELL", "ADD") for word, _ in runtime):
        errors.append("the runtime stage has RUN/SHELL/ADD: distroless has no shell, copy files in with COPY --from")
    users = [args for word, args in runtime if word == "USER"]
    if users != ["65532:65532"]:
        errors.append(f"the runtime stage must end with USER 65532:65532 (numeric, for runAsNonRoot), has {users}")
    entry = [args for word, args in runtime if word == "ENTRYPOINT"]
    if len(entry) != 1 or not entry[0].startswith("["):
        errors.append("ENTRYPOINT must be one exec-form (JSON array) instruction: there is no shell")
    copies = [args for word, args in runtime if word == "COPY"]
    if copies != ["--from=builder /out/license-server /out/license /usr/local/bin/"]:
        errors.append(f"the runtime stage must copy exactly the two binaries, copies {copies}")
    exposed = [args for word, args in runtime if word == "EXPOSE"]

    dep = yaml.safe_load(DEPLOYMENT.read_text())
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    sc = c.get("securityContext", {})
    if (sc.get("runAsUser"), sc.get("runAsGroup")) != (65532, 65532) or not sc.get("runAsNonRoot"):
        errors.append("the Deployment must run as 65532:65532 with runAsNonRoot, as the image does")
    if not sc.get("readOnlyRootFilesystem"):
        errors.append("the Deployment must keep readOnlyRootFilesystem: true")
    mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
    empty = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    for path in ("/var/lib/license", "/tmp"):
        if path not in mounts:
            errors.append(f"the Deployment must mount a writable volume at {path} (the root is read-only)")
    if not {m["name"] for m in c.get("volumeMounts", []) if m["mountPath"] in ("/var/lib/license", "/tmp")} <= empty:
        errors.append("the data directory and /tmp must be emptyDir volumes")
    ports = [str(p["containerPort"]) for p in c.get("ports", [])]
    if exposed != ports:
        errors.append(f"EXPOSE {exposed} differs from the Deployment's container ports {ports}")

    for e in errors:
        print("ERROR " + e)
    if errors:
        return 1
    print(f"build stage = documented `{expected}`; runtime: {base.split()[0]}, USER 65532, exec ENTRYPOINT, read-only root")
    return 0


if __name__ == "__main__":
    sys.exit(main())
