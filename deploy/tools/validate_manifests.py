#!/usr/bin/env python3
"""Offline checks of the rendered Kubernetes manifests (run by deploy/check).

1. Schema: every built-in resource is validated against the Kubernetes OpenAPI schemas shipped in
   the `kubernetes-validate` package (strict: unknown fields are errors). A resource with no
   schema is an error, unless its kind is one of the custom resources below, so a typo in a
   built-in apiVersion cannot slip through as "unknown kind".
2. Custom resources (cert-manager ClusterIssuer, External Secrets SecretStore/ExternalSecret,
   Google Managed Prometheus PodMonitoring/Rules) have
   no built-in schema and their CRDs are not installed here, so they get a small shape check of
   the fields this project uses.
3. Cross-references inside each overlay: every Secret key, ConfigMap, ServiceAccount, Service port
   and ClusterIssuer the manifests name exists; selectors match the pods; the image is pinned by
   digest; and the LICENSE_* variables are exactly the ones in base/ (names live in one place).
4. Every LICENSE_* variable the pod gets (ConfigMap keys and env entries) is a setting the server
   reads: the names are derived from license-server's settings list (SETTINGS in
   license-server/src/config/example.rs, the list `license-server config example` prints), so a
   renamed or misspelt variable fails here instead of being ignored with a warning at start-up.

Usage: validate_manifests.py --kube-version 1.30.0 --config-keys PROPS --cluster CLUSTER.yaml
                             --server-settings EXAMPLE.rs NAME=RENDERED.yaml [NAME=RENDERED.yaml ...]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Callable

import kubernetes_validate
import yaml

Doc = dict[str, Any]

APP = "license-server"
SECRET = "license-server-secrets"
# Read by the server besides the settings: the path of a TOML config file.
ENV_CONFIG_FILE = "LICENSE_CONFIG"


def load(path: Path) -> list[Doc]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d]


def ident(doc: Doc) -> str:
    meta = doc.get("metadata", {})
    ns = meta.get("namespace")
    return f"{doc.get('kind')}/{(ns + '/') if ns else ''}{meta.get('name')}"


def dig(doc: Any, *path: Any) -> Any:
    for p in path:
        if isinstance(doc, dict):
            doc = doc.get(p)
        elif isinstance(doc, list) and isinstance(p, int) and p < len(doc):
            doc = doc[p]
        else:
            return None
    return doc


# --- 2. shape checks for custom resources ----------------------------------------------------


def check_keys(errors: list[str], where: str, obj: Any, required: set[str], allowed: set[str]) -> bool:
    if not isinstance(obj, dict):
        errors.append(f"{where}: expected a mapping")
        return False
    missing = required - obj.keys()
    unknown = obj.keys() - allowed - required
    if missing:
        errors.append(f"{where}: missing {sorted(missing)}")
    if unknown:
        errors.append(f"{where}: unknown fields {sorted(unknown)}")
    return not missing and not unknown


def shape_cluster_issuer(doc: Doc, errors: list[str]) -> None:
    w = ident(doc)
    if dig(doc, "metadata", "namespace"):
        errors.append(f"{w}: a ClusterIssuer is cluster-scoped and must not carry a namespace")
    check_keys(errors, f"{w}.spec", doc.get("spec"), {"acme"}, set())
    acme = dig(doc, "spec", "acme")
    if not check_keys(errors, f"{w}.spec.acme", acme, {"server", "privateKeySecretRef", "solvers"}, {"email", "skipTLSVerify", "preferredChain"}):
        return
    if not str(acme["server"]).startswith("https://"):
        errors.append(f"{w}: spec.acme.server must be an https URL")
    if not dig(acme, "privateKeySecretRef", "name"):
        errors.append(f"{w}: spec.acme.privateKeySecretRef.name is required")
    solvers = acme["solvers"]
    if not isinstance(solvers, list) or not solvers:
        errors.append(f"{w}: spec.acme.solvers must be a non-empty list")
        return
    for i, s in enumerate(solvers):
        ing = dig(s, "http01", "ingress")
        if not isinstance(ing, dict) or not (ing.get("ingressClassName") or ing.get("class")):
            errors.append(f"{w}: solvers[{i}] must be http01 with an ingress class")


def shape_secret_store(doc: Doc, errors: list[str]) -> None:
    w = ident(doc)
    provider = dig(doc, "spec", "provider")
    if not isinstance(provider, dict) or len(provider) != 1:
        errors.append(f"{w}: spec.provider must name exactly one provider")
        return
    gcp = provider.get("gcpsm")
    if gcp is None:
        return
    check_keys(errors, f"{w}.spec.provider.gcpsm", gcp, {"projectID"}, {"auth", "location"})
    wi = dig(gcp, "auth", "workloadIdentity")
    if wi is not None:
        check_keys(errors, f"{w}.spec.provider.gcpsm.auth.workloadIdentity", wi, {"serviceAccountRef", "clusterLocation", "clusterName"}, {"clusterProjectID"})
        if not dig(wi, "serviceAccountRef", "name"):
            errors.append(f"{w}: workloadIdentity.serviceAccountRef.name is required")


def shape_external_secret(doc: Doc, errors: list[str]) -> None:
    w = ident(doc)
    spec = doc.get("spec")
    if not check_keys(errors, f"{w}.spec", spec, {"secretStoreRef", "target", "data"}, {"refreshInterval", "dataFrom"}):
        return
    ref = spec["secretStoreRef"]
    if ref.get("kind", "SecretStore") not in ("SecretStore", "ClusterSecretStore") or not ref.get("name"):
        errors.append(f"{w}: secretStoreRef needs a name and kind SecretStore or ClusterSecretStore")
    if not dig(spec, "target", "name"):
        errors.append(f"{w}: target.name is required")
    for i, item in enumerate(spec["data"] or []):
        if not item.get("secretKey") or not dig(item, "remoteRef", "key"):
            errors.append(f"{w}: data[{i}] needs secretKey and remoteRef.key")


def shape_pod_monitoring(doc: Doc, errors: list[str]) -> None:
    w = ident(doc)
    spec = doc.get("spec")
    if not check_keys(errors, f"{w}.spec", spec, {"selector", "endpoints"}, {"targetLabels", "limits", "filterRunning"}):
        return
    if not dig(spec, "selector", "matchLabels"):
        errors.append(f"{w}: spec.selector.matchLabels is required")
    for i, ep in enumerate(spec["endpoints"] or []):
        if check_keys(errors, f"{w}.spec.endpoints[{i}]", ep, {"port"}, {"path", "interval", "timeout", "scheme", "params", "metricRelabeling", "tls", "authorization", "basicAuth", "oauth2", "proxyUrl"}):
            for key in ("interval", "timeout"):
                if key in ep and not re.fullmatch(r"\d+(ms|s|m)", str(ep[key])):
                    errors.append(f"{w}: endpoints[{i}].{key} {ep[key]!r} is not a duration")


def shape_rules(doc: Doc, errors: list[str]) -> None:
    # The rules themselves are checked by promtool (deploy/check, step monitoring).
    w = ident(doc)
    spec = doc.get("spec")
    if not check_keys(errors, f"{w}.spec", spec, {"groups"}, set()):
        return
    for i, g in enumerate(spec["groups"] or []):
        if check_keys(errors, f"{w}.spec.groups[{i}]", g, {"name", "rules"}, {"interval"}):
            for j, r in enumerate(g["rules"]):
                kind = {"alert", "record"} & set(r)
                if len(kind) != 1 or not r.get("expr"):
                    errors.append(f"{w}: groups[{i}].rules[{j}] needs expr and exactly one of alert, record")


CUSTOM: dict[tuple[str, str], Callable[[Doc, list[str]], None]] = {
    ("monitoring.googleapis.com/v1", "PodMonitoring"): shape_pod_monitoring,
    ("monitoring.googleapis.com/v1", "Rules"): shape_rules,
    ("cert-manager.io/v1", "ClusterIssuer"): shape_cluster_issuer,
    ("external-secrets.io/v1", "SecretStore"): shape_secret_store,
    ("external-secrets.io/v1", "ExternalSecret"): shape_external_secret,
}


# --- 1. schemas ------------------------------------------------------------------------------


def validate_docs(name: str, docs: list[Doc], kube_version: str, errors: list[str]) -> tuple[int, int]:
    builtin = custom = 0
    for doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key in CUSTOM:
            CUSTOM[key](doc, errors)
            custom += 1
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
            builtin += 1
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{name}: {ident(doc)}: no schema for {key[0]} {key[1]} in Kubernetes {kube_version} (typo, or a custom resource deploy/tools/validate_manifests.py does not know)")
        except kubernetes_validate.ValidationError as e:
            path = "/".join(str(p) for p in e.path)
            errors.append(f"{name}: {ident(doc)}: {path}: {e.message}")
    return builtin, custom


# --- 4. the server's settings ----------------------------------------------------------------


def server_env_vars(example_rs: Path) -> set[str]:
    """The environment variable of every setting in SETTINGS (license-server's config example):
    LICENSE_ + the TOML key in capitals with `__` between levels, as `env_var` in
    license-server/src/config/layers.rs builds it."""
    text = example_rs.read_text()
    block = re.search(r"pub const SETTINGS: &\[\(&str, &str\)\] = &\[(.*?)\n\];", text, re.S)
    keys = re.findall(r'\(\s*"([a-z0-9_.]+)",', block.group(1)) if block else []
    if not keys:
        raise SystemExit(f"{example_rs}: found no SETTINGS list; update server_env_vars() in {__file__}")
    return {"LICENSE_" + k.upper().replace(".", "__") for k in keys} | {ENV_CONFIG_FILE}


# --- 3. cross-references ---------------------------------------------------------------------


def config_keys_from_properties(path: Path) -> set[str]:
    keys = set()
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keys.add(line.split("=", 1)[0])
    return keys


def cross_check(name: str, docs: list[Doc], issuers: set[str], config_keys: set[str], server_vars: set[str], errors: list[str]) -> None:
    def find(kind: str) -> list[Doc]:
        return [d for d in docs if d.get("kind") == kind]

    def err(msg: str) -> None:
        errors.append(f"{name}: {msg}")

    deployments = [d for d in find("Deployment") if d["metadata"]["name"] == APP]
    if len(deployments) != 1:
        err(f"expected one Deployment {APP}, found {len(deployments)}")
        return
    dep = deployments[0]
    pod = dep["spec"]["template"]
    pod_labels = pod["metadata"].get("labels", {})
    pod_spec = pod["spec"]

    # Secret keys the pod needs -> provided by a Secret in the render or an ExternalSecret.
    provided: dict[str, set[str]] = {}
    for s in find("Secret"):
        provided.setdefault(s["metadata"]["name"], set()).update((s.get("data") or {}).keys(), (s.get("stringData") or {}).keys())
    for es in find("ExternalSecret"):
        target = dig(es, "spec", "target", "name")
        provided.setdefault(target, set()).update(i["secretKey"] for i in es["spec"].get("data") or [])
    stores = {s["metadata"]["name"] for s in find("SecretStore")}
    for es in find("ExternalSecret"):
        ref = es["spec"]["secretStoreRef"]
        if ref.get("kind", "SecretStore") == "SecretStore" and ref["name"] not in stores:
            err(f"{ident(es)} names SecretStore {ref['name']}, which is not in the render")
    accounts = {a["metadata"]["name"]: a for a in find("ServiceAccount")}
    for st in find("SecretStore"):
        sa = dig(st, "spec", "provider", "gcpsm", "auth", "workloadIdentity", "serviceAccountRef", "name")
        if sa and sa not in accounts:
            err(f"{ident(st)} authenticates as ServiceAccount {sa}, which is not in the render")

    needed: list[tuple[str, str]] = []
    containers = pod_spec.get("containers", [])
    for c in containers:
        for e in c.get("env", []):
            ref = dig(e, "valueFrom", "secretKeyRef")
            if ref:
                needed.append((ref["name"], ref["key"]))
                if e["name"] != ref["key"]:
                    err(f"env {e['name']} reads secret key {ref['key']}: keep the key equal to the variable name")
            elif e["name"].startswith("LICENSE_"):
                err(f"env {e['name']} is set inline in the Deployment: non-secret LICENSE_* settings belong in base/license-server-config.properties")
    for v in pod_spec.get("volumes", []):
        sec = v.get("secret")
        if sec:
            for item in sec.get("items", []):
                needed.append((sec["secretName"], item["key"]))
    for secret_name, key in needed:
        if secret_name not in provided:
            err(f"the pod reads Secret {secret_name}, which neither a Secret nor an ExternalSecret in the render provides")
        elif key not in provided[secret_name]:
            err(f"the pod reads key {key} of Secret {secret_name}, which does not provide it (has {sorted(provided[secret_name])})")

    # The ConfigMap: exactly the base's LICENSE_* names, in every overlay.
    configmaps = {c["metadata"]["name"]: c for c in find("ConfigMap")}
    for c in containers:
        for ef in c.get("envFrom", []):
            cm = dig(ef, "configMapRef", "name")
            if cm is None:
                continue
            if cm not in configmaps:
                err(f"envFrom names ConfigMap {cm}, which is not in the render")
                continue
            keys = set((configmaps[cm].get("data") or {}).keys())
            if keys != config_keys:
                err(f"ConfigMap {cm} keys differ from base/license-server-config.properties: extra {sorted(keys - config_keys)}, missing {sorted(config_keys - keys)}")
            for key in sorted(keys):
                if key.startswith("LICENSE_") and key not in server_vars:
                    err(f"ConfigMap {cm} sets {key}, which is not a license-server setting (see `license-server config example`)")
    for c in containers:
        for e in c.get("env", []):
            if e["name"].startswith("LICENSE_") and e["name"] not in server_vars:
                err(f"env {e['name']} is not a license-server setting (see `license-server config example`)")

    # Identity.
    sa_name = pod_spec.get("serviceAccountName")
    sa = accounts.get(sa_name)
    if sa is None:
        err(f"the pod runs as ServiceAccount {sa_name}, which is not in the render")
    elif not re.fullmatch(r"[a-z0-9-]+@[a-z0-9-]+\.iam\.gserviceaccount\.com", dig(sa, "metadata", "annotations", "iam.gke.io/gcp-service-account") or ""):
        err(f"ServiceAccount {sa_name} lacks a valid iam.gke.io/gcp-service-account annotation")

    # Image pinned by digest.
    for c in containers:
        if not re.search(r"@sha256:[0-9a-f]{64}$", c.get("image", "")):
            err(f"container {c['name']} image {c.get('image')!r} is not pinned by digest (set `images:` in the overlay)")

    # Selectors.
    def selects(selector: dict[str, str] | None) -> bool:
        return bool(selector) and all(pod_labels.get(k) == v for k, v in selector.items())

    if not selects(dig(dep, "spec", "selector", "matchLabels")):
        err("Deployment selector does not match its pod template")
    services = {s["metadata"]["name"]: s for s in find("Service")}
    port_names = {p.get("name") for c in containers for p in c.get("ports", [])}
    for s in services.values():
        if not selects(s["spec"].get("selector")):
            err(f"{ident(s)} selector does not match the pods")
        for p in s["spec"].get("ports", []):
            if isinstance(p.get("targetPort"), str) and p["targetPort"] not in port_names:
                err(f"{ident(s)} targets port {p['targetPort']!r}, which no container declares")
    for pdb in find("PodDisruptionBudget"):
        if not selects(dig(pdb, "spec", "selector", "matchLabels")):
            err(f"{ident(pdb)} selector does not match the pods")
    for np in find("NetworkPolicy"):
        if not selects(dig(np, "spec", "podSelector", "matchLabels")):
            err(f"{ident(np)} does not select the pods")
    for pm in find("PodMonitoring"):
        if not selects(dig(pm, "spec", "selector", "matchLabels")):
            err(f"{ident(pm)} does not select the pods")
        for ep in dig(pm, "spec", "endpoints") or []:
            if ep.get("port") not in port_names:
                err(f"{ident(pm)} scrapes port {ep.get('port')!r}, which no container declares")
        admitted = {dig(peer, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name")
                    for np in find("NetworkPolicy") for rule in dig(np, "spec", "ingress") or [] for peer in rule.get("from", [])}
        if find("NetworkPolicy") and "gmp-system" not in admitted:
            err(f"{ident(pm)}: no NetworkPolicy lets namespace gmp-system (the collectors) reach the pods")
    for hpa in find("HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        if (ref["kind"], ref["name"]) != ("Deployment", APP):
            err(f"{ident(hpa)} scales {ref['kind']}/{ref['name']}, not Deployment/{APP}")
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            err(f"{ident(hpa)} minReplicas > maxReplicas")

    # Ingress -> Service port, ClusterIssuer.
    for ing in find("Ingress"):
        issuer = dig(ing, "metadata", "annotations", "cert-manager.io/cluster-issuer")
        if issuer not in issuers:
            err(f"{ident(ing)} uses ClusterIssuer {issuer!r}, not defined in deploy/k8s/cluster (has {sorted(issuers)})")
        tls_hosts = {h for t in ing["spec"].get("tls", []) for h in t.get("hosts", [])}
        for rule in ing["spec"].get("rules", []):
            if rule.get("host") not in tls_hosts:
                err(f"{ident(ing)} host {rule.get('host')} has no TLS entry")
            for path in dig(rule, "http", "paths") or []:
                svc = dig(path, "backend", "service")
                if svc["name"] not in services:
                    err(f"{ident(ing)} routes to Service {svc['name']}, not in the render")
                    continue
                svc_ports = services[svc["name"]]["spec"]["ports"]
                want = svc["port"].get("name") or svc["port"].get("number")
                if not any(want in (p.get("name"), p.get("port")) for p in svc_ports):
                    err(f"{ident(ing)} routes to port {want!r} of Service {svc['name']}, which it does not expose")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kube-version", required=True)
    ap.add_argument("--config-keys", required=True, type=Path)
    ap.add_argument("--cluster", required=True, type=Path)
    ap.add_argument("--server-settings", required=True, type=Path, help="license-server/src/config/example.rs")
    ap.add_argument("overlays", nargs="+", metavar="NAME=RENDERED.yaml")
    args = ap.parse_args()

    errors: list[str] = []
    cluster = load(args.cluster)
    builtin, custom = validate_docs("cluster", cluster, args.kube_version, errors)
    issuers = {d["metadata"]["name"] for d in cluster if d.get("kind") == "ClusterIssuer"}
    config_keys = config_keys_from_properties(args.config_keys)
    server_vars = server_env_vars(args.server_settings)

    for spec in args.overlays:
        name, _, path = spec.partition("=")
        docs = load(Path(path))
        b, c = validate_docs(name, docs, args.kube_version, errors)
        builtin += b
        custom += c
        cross_check(name, docs, issuers, config_keys, server_vars, errors)

    for e in errors:
        print(f"  ERROR {e}")
    print(f"  {builtin} built-in resources schema-valid (Kubernetes {args.kube_version}, strict), "
          f"{custom} custom resources shape-checked, cross-references checked in {len(args.overlays)} overlays: "
          f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
