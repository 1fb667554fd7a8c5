#!/usr/bin/env python3
"""The monitoring objects of license-server: generate them from one source, and check them.

  monitoring.py sync     write the generated files from their sources (commit the result):
                           deploy/k8s/base/monitoring-rules.yaml  <- deploy/monitoring/license-server.rules.yaml
                           deploy/monitoring/grafana-dashboard.json   <- PANELS below
                           deploy/tofu/modules/monitoring/dashboard.json <- PANELS below
  monitoring.py check    exit 1 unless: the plain-Prometheus configuration passes `promtool check
                         config` (deploy/monitoring/prometheus.yaml); every generated file equals what `sync` would write; every
                         metric a rule or a dashboard names is one the server exports (read from
                         license-server/src/metrics*.rs) or a recorded rule; every alert has a
                         severity, a summary, a description and a runbook_url naming a file in
                         docs/runbooks/; both dashboards have the shape their consumers read
                         (Grafana's panels and gridPos, Cloud Monitoring's mosaicLayout); and every
                         dashboard query parses as PromQL (`promtool check rules` on a file of them).

Needs PyYAML (deploy/check runs it with its venv's python) and promtool (package `prometheus`).
"""

import copy
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/monitoring/license-server.rules.yaml"
RULES_CR = ROOT / "deploy/k8s/base/monitoring-rules.yaml"
GRAFANA = ROOT / "deploy/monitoring/grafana-dashboard.json"
CLOUD = ROOT / "deploy/tofu/modules/monitoring/dashboard.json"
SERVER_METRICS = [ROOT / "license-server/src/metrics.rs", *sorted((ROOT / "license-server/src/metrics").glob("*.rs"))]
SCRAPE = ROOT / "deploy/monitoring/prometheus.yaml"
SEVERITIES = {"page", "ticket"}

# Grafana's variables, and what Cloud Monitoring's JSON holds instead (OpenTofu's templatefile
# puts the environment's namespace in place of ${namespace}).
GRAFANA_SEL = 'namespace="$namespace"'
CLOUD_SEL = 'namespace="${namespace}"'
WINDOW = "$__rate_interval"
CLOUD_WINDOW = "5m"

# --- the dashboards: one list of panels, rendered for Grafana and for Cloud Monitoring ---------
# (title, unit, [(legend, PromQL with {sel} for the namespace matcher and {w} for the window)])
PANELS = [
    ("Acquires by outcome", "reqps", [
        ("{{outcome}}", "sum by (outcome) (rate(license_acquires_total{{{sel}}}[{w}]))"),
    ]),
    ("Heartbeats by outcome", "reqps", [
        ("{{outcome}}", "sum by (outcome) (rate(license_heartbeats_total{{{sel}}}[{w}]))"),
    ]),
    ("Seat events: grants, denials, expiries", "ops", [
        ("{{type}}", 'sum by (type) (rate(license_seat_events_total{{{sel},type=~"granted|denied|released|expired|evicted|revoked|reaped|rebuilt|overdraft"}}[{w}]))'),
    ]),
    ("Share of acquires denied for no seats", "percentunit", [
        ("no_seats / all", 'sum(rate(license_acquires_total{{{sel},outcome="no_seats"}}[{w}])) / sum(rate(license_acquires_total{{{sel}}}[{w}]))'),
    ]),
    # Per license (license_seats_*, set by the seat-gauge task): every replica reports the same
    # ledger figure, hence max by, not sum. The 10 licenses with most seats in use, so a
    # deployment with thousands of licenses still draws a readable chart.
    ("Seats in use vs limit per license (10 with most in use)", "short", [
        ("{{license_id}} in use", "topk(10, max by (tenant_id, license_id) (license_seats_in_use{{{sel}}}))"),
        ("{{license_id}} limit", "max by (tenant_id, license_id) (license_seats_limit{{{sel}}}) and on (tenant_id, license_id) topk(10, max by (tenant_id, license_id) (license_seats_in_use{{{sel}}}))"),
    ]),
    ("Seat use per license, in use / limit (10 fullest; alert at 90 %)", "percentunit", [
        ("{{tenant_id}} {{license_id}}", "topk(10, max by (tenant_id, license_id) (license_seats_in_use{{{sel}}}) / max by (tenant_id, license_id) (license_seats_limit{{{sel}}}))"),
    ]),
    ("Latency p99 by route", "s", [
        ("{{operation}}", "histogram_quantile(0.99, sum by (operation, le) (rate(license_http_request_duration_seconds_bucket{{{sel}}}[{w}])))"),
    ]),
    ("Latency p50 by route", "s", [
        ("{{operation}}", "histogram_quantile(0.5, sum by (operation, le) (rate(license_http_request_duration_seconds_bucket{{{sel}}}[{w}])))"),
    ]),
    ("Requests by route and status", "reqps", [
        ("{{operation}} {{status}}", 'sum by (operation, status) (rate(license_http_requests_total{{{sel},operation!="ready"}}[{w}]))'),
    ]),
    ("SLO: 5xx ratio of acquire/heartbeat/release (budget 0.1 %)", "percentunit", [
        ("5 m", "license:slo_errors:ratio_rate5m{{{sel}}}"),
        ("1 h", "license:slo_errors:ratio_rate1h{{{sel}}}"),
        ("6 h", "license:slo_errors:ratio_rate6h{{{sel}}}"),
    ]),
    ("SLO: acquire/heartbeat over 256 ms (budget 1 %)", "percentunit", [
        ("5 m", "license:slo_slow:ratio_rate5m{{{sel}}}"),
        ("1 h", "license:slo_slow:ratio_rate1h{{{sel}}}"),
        ("6 h", "license:slo_slow:ratio_rate6h{{{sel}}}"),
    ]),
    ("Dependency health: readiness 503 share by replica (store, ledger)", "percentunit", [
        ("{{pod}}", 'sum by (pod) (rate(license_http_requests_total{{{sel},operation="ready",status=~"5.."}}[{w}])) / sum by (pod) (rate(license_http_requests_total{{{sel},operation="ready"}}[{w}]))'),
    ]),
    ("Dependency health: ledger rebuilds and compensations (Redis)", "ops", [
        ("rebuilds", "sum(rate(license_ledger_rebuilds_total{{{sel}}}[{w}]))"),
        ("compensations", "sum(rate(license_ledger_compensations_total{{{sel}}}[{w}]))"),
    ]),
    ("Dependency health: signer (Cloud KMS)", "short", [
        ("degraded replicas", "sum(license_signer_degraded{{{sel}}})"),
        ("rotation failures / s", "sum(rate(license_tenant_key_rotation_failures_total{{{sel}}}[{w}]))"),
    ]),
    ("Dependency health: write-behind backlog (PostgreSQL)", "short", [
        ("{{pod}}", "max by (pod) (license_heartbeats_pending{{{sel}}})"),
    ]),
    ("Reaper passes and event-log drops", "ops", [
        ("reaper {{outcome}}", "sum by (outcome) (rate(license_reaper_passes_total{{{sel}}}[{w}]))"),
        ("sessions reaped", "sum(rate(license_reaped_sessions_total{{{sel}}}[{w}]))"),
        ("events dropped", "sum(rate(license_events_dropped_total{{{sel}}}[{w}]))"),
        ("seat-event log: dropped", "sum(rate(license_event_log_dropped_total{{{sel}}}[{w}]))"),
        ("seat-event log: failed appends", "sum(rate(license_event_log_failed_appends_total{{{sel}}}[{w}]))"),
    ]),
    ("Connections and rate limits", "short", [
        ("open", "sum(license_http_connections_open{{{sel}}})"),
        ("rate limited / s {{budget}}", "sum by (budget) (rate(license_rate_limited_total{{{sel}}}[{w}]))"),
    ]),
]

GRAFANA_UNITS = {"reqps", "ops", "percentunit", "s", "short"}


def grafana_dashboard():
    panels = []
    for i, (title, unit, queries) in enumerate(PANELS):
        panels.append({
            "id": i + 1,
            "type": "timeseries",
            "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": [
                {"refId": chr(ord("A") + j), "datasource": {"type": "prometheus", "uid": "${datasource}"},
                 "expr": q.format(sel=GRAFANA_SEL, w=WINDOW), "legendFormat": legend}
                for j, (legend, q) in enumerate(queries)
            ],
        })
    return {
        "title": "license-server",
        "uid": "license-server",
        "description": "Generated by deploy/tools/monitoring.py sync: edit PANELS there. docs/observability.md",
        "tags": ["license-server"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
            {"name": "namespace", "type": "query", "label": "Namespace",
             "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "query": {"query": "label_values(license_http_requests_total, namespace)", "refId": "namespace"},
             "definition": "label_values(license_http_requests_total, namespace)", "refresh": 2},
        ]},
        "annotations": {"list": []},
        "panels": panels,
    }


def cloud_dashboard():
    tiles = []
    for i, (title, unit, queries) in enumerate(PANELS):
        tiles.append({
            "xPos": 24 * (i % 2), "yPos": 16 * (i // 2), "width": 24, "height": 16,
            "widget": {"title": title, "xyChart": {
                "chartOptions": {"mode": "COLOR"},
                "dataSets": [
                    {"plotType": "LINE", "legendTemplate": legend.replace("{{", "${labels.").replace("}}", "}"),
                     "targetAxis": "Y1",
                     "timeSeriesQuery": {"prometheusQuery": q.format(sel=CLOUD_SEL, w=CLOUD_WINDOW)}}
                    for legend, q in queries
                ],
                "yAxis": {"scale": "LINEAR"},
            }},
        })
    return {"displayName": "license-server (${namespace})", "mosaicLayout": {"columns": 48, "tiles": tiles}}


def rules_cr():
    source = yaml.safe_load(RULES.read_text())
    header = ("# GENERATED by `python3 deploy/tools/monitoring.py sync` from\n"
              "# deploy/monitoring/license-server.rules.yaml: edit that file, not this one.\n"
              "# Google Managed Prometheus evaluates these rules over this namespace's metrics.\n")
    doc = {"apiVersion": "monitoring.googleapis.com/v1", "kind": "Rules",
           "metadata": {"name": "license-server", "labels": {"app.kubernetes.io/name": "license-server"}},
           "spec": {"groups": source["groups"]}}
    return header + yaml.safe_dump(doc, sort_keys=False, width=1000, allow_unicode=True)


def generated():
    return {
        RULES_CR: rules_cr(),
        GRAFANA: json.dumps(grafana_dashboard(), indent=2) + "\n",
        CLOUD: json.dumps(cloud_dashboard(), indent=2) + "\n",
    }


# --- checks --------------------------------------------------------------------------------


def exported_metrics():
    """Every series name the server can export: each registered name, plus the suffixes the
    OpenMetrics text encoder adds (counters `_total`, histograms `_bucket`/`_count`/`_sum`)."""
    names = set()
    for path in SERVER_METRICS:
        names |= set(re.findall(r'"(license_[a-z0-9_]+)"', path.read_text()))
    series = {"up"}
    for n in names:
        series |= {n, n + "_total", n + "_bucket", n + "_count", n + "_sum"}
    return names, series


def names_in(expr):
    """The metric names an expression reads: label names (`license_id` in `by (...)`, `on (...)`
    or a `{...}` matcher) are taken out first."""
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    return set(re.findall(r"\b(license_[a-z0-9_]+|license:[a-z0-9_:]+|up)\b", expr))


def check(errors):
    for path, text in generated().items():
        if not path.exists() or path.read_text() != text:
            errors.append(f"{path.relative_to(ROOT)} is not what `python3 deploy/tools/monitoring.py sync` writes: run it and commit")

    names, series = exported_metrics()
    if not names:
        errors.append("no metric names found in license-server/src/metrics*.rs")
    groups = yaml.safe_load(RULES.read_text())["groups"]
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    alerts = 0
    for g in groups:
        for r in g["rules"]:
            what = r.get("alert") or r.get("record")
            for n in sorted(names_in(r["expr"]) - series - recorded):
                errors.append(f"rule {what}: {n} is neither exported by the server nor recorded")
            if "alert" not in r:
                continue
            alerts += 1
            if r.get("labels", {}).get("severity") not in SEVERITIES:
                errors.append(f"alert {what}: labels.severity must be one of {sorted(SEVERITIES)}")
            ann = r.get("annotations", {})
            for key in ("summary", "description", "runbook_url"):
                if not ann.get(key):
                    errors.append(f"alert {what}: annotations.{key} is missing")
            url = ann.get("runbook_url", "")
            if url and not (url.startswith("docs/runbooks/") and (ROOT / url.split("#")[0]).is_file()):
                errors.append(f"alert {what}: runbook_url {url!r} is not a file under docs/runbooks/")

    queries = []
    g = json.loads(GRAFANA.read_text())
    for key in ("title", "uid", "schemaVersion", "panels", "templating"):
        if key not in g:
            errors.append(f"grafana dashboard: missing {key}")
    for p in g.get("panels", []):
        where = f"grafana panel {p.get('title')!r}"
        gp = p.get("gridPos", {})
        if not all(isinstance(gp.get(k), int) for k in "hwxy") or gp["x"] + gp["w"] > 24:
            errors.append(f"{where}: gridPos needs integer h, w, x, y with x + w <= 24")
        if p.get("type") != "timeseries" or not p.get("targets"):
            errors.append(f"{where}: a timeseries panel with targets expected")
        if p.get("fieldConfig", {}).get("defaults", {}).get("unit") not in GRAFANA_UNITS:
            errors.append(f"{where}: unknown unit")
        for t in p.get("targets", []):
            if not t.get("expr") or not t.get("refId"):
                errors.append(f"{where}: every target needs refId and expr")
            queries.append((where, t.get("expr", "").replace("$namespace", "license").replace(WINDOW, "5m")))

    c = json.loads(CLOUD.read_text())
    layout = c.get("mosaicLayout", {})
    if not c.get("displayName") or not isinstance(layout.get("columns"), int) or not layout.get("tiles"):
        errors.append("cloud dashboard: needs displayName and mosaicLayout.columns and .tiles")
    for t in layout.get("tiles", []):
        title = t.get("widget", {}).get("title")
        where = f"cloud tile {title!r}"
        if set(t) - {"xPos", "yPos", "width", "height", "widget"} or t.get("xPos", 0) + t.get("width", 0) > layout.get("columns", 0):
            errors.append(f"{where}: unknown keys, or xPos + width over the columns")
        chart = t.get("widget", {}).get("xyChart", {})
        for ds in chart.get("dataSets", []):
            if ds.get("plotType") not in ("LINE", "STACKED_AREA", "STACKED_BAR", "HEATMAP"):
                errors.append(f"{where}: unknown plotType")
            q = ds.get("timeSeriesQuery", {}).get("prometheusQuery")
            if not q:
                errors.append(f"{where}: every dataSet needs timeSeriesQuery.prometheusQuery")
                continue
            queries.append((where, q.replace("${namespace}", "license")))
        if not chart.get("dataSets"):
            errors.append(f"{where}: an xyChart with dataSets expected")

    for where, q in queries:
        for n in sorted(names_in(q) - series - recorded):
            errors.append(f"{where}: {n} is neither exported by the server nor recorded")
    # PromQL syntax: every query as a recording rule, through promtool.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": [
            {"record": f"dashboard:query_{i}", "expr": q} for i, (_, q) in enumerate(queries)]}]}, f)
        f.flush()
        out = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
        if out.returncode != 0:
            errors.append("a dashboard query does not parse:\n" + out.stdout + out.stderr)
    check_scrape_config(errors)
    return alerts, len(queries), len(names)


def check_scrape_config(errors):
    """`promtool check config` on the plain-Prometheus configuration. Debian's promtool is built
    without Kubernetes service discovery, so the check runs on a copy whose kubernetes_sd_configs
    is a static target; the relabelling, the timeouts and the rule file are checked as written."""
    config = yaml.safe_load(SCRAPE.read_text())
    jobs = {j["job_name"]: j for j in config.get("scrape_configs", [])}
    job = jobs.get("license-server")
    if job is None:
        errors.append(f"{SCRAPE.relative_to(ROOT)}: no job_name license-server (the rules read job=\"license-server\")")
        return
    if [sd.get("role") for sd in job.get("kubernetes_sd_configs", [])] != ["pod"]:
        errors.append(f"{SCRAPE.relative_to(ROOT)}: license-server must discover pods (kubernetes_sd_configs role: pod)")
    targets = {r.get("target_label") for r in job.get("relabel_configs", [])}
    for label in ("namespace", "pod"):
        if label not in targets:
            errors.append(f"{SCRAPE.relative_to(ROOT)}: no relabelling sets {label}, which the rules group by")
    copy_ = copy.deepcopy(config)
    for j in copy_["scrape_configs"]:
        if j.pop("kubernetes_sd_configs", None) is not None:
            j["static_configs"] = [{"targets": ["127.0.0.1:8080"]}]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "prometheus.yaml").write_text(yaml.safe_dump(copy_))
        for rule_file in config.get("rule_files", []):
            (Path(tmp) / rule_file).write_text((SCRAPE.parent / rule_file).read_text())
        out = subprocess.run(["promtool", "check", "config", str(Path(tmp) / "prometheus.yaml")],
                             capture_output=True, text=True)
        if out.returncode != 0:
            errors.append("promtool check config: " + out.stdout + out.stderr)


def main():
    if sys.argv[1:] == ["sync"]:
        for path, text in generated().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if sys.argv[1:] == ["check"]:
        errors = []
        alerts, queries, names = check(errors)
        for e in errors:
            print("   ERROR " + e)
        print(f"{alerts} alerts with runbooks, {queries} dashboard queries parsed, "
              f"metric names checked against the {names} the server registers")
        return 1 if errors else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
