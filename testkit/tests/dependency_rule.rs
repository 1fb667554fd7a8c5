//! The dependency rule of DESIGN.md §2, over the resolved graph of one `cargo metadata` call.
//! Arrows point one way: the server and the CLI → adapters → core.
//!
//! - An adapter imports no other adapter and neither composition root (the server, the CLI):
//!   no direct dependency of any kind (a dev-dependency on `license-testkit` is fine), and no
//!   normal or build dependency that reaches one.
//! - `license-core` reaches, through its normal dependencies, no adapter, no composition root,
//!   no driver and no web framework.
//! - Only the composition roots, the examples, the benches and the testkit use more than one
//!   adapter.
//!
//! A failure names every offending edge (or path), e.g.
//! `license-store-pg -> license-seats-redis: adapters never import each other`.

// A panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const CORE: &str = "license-core";
/// Each one implements a core port for one technology.
const ADAPTERS: [&str; 3] = [
    "license-seats-redis",
    "license-store-pg",
    "license-signer-kms",
];
/// The composition roots: they pick the adapters.
const ROOTS: [&str; 2] = ["license-server", "license-cli"];
/// The packages that may use more than one adapter.
const MAY_USE_SEVERAL_ADAPTERS: [&str; 5] = [
    "license-server",
    "license-cli",
    "license-examples",
    "license-benches",
    "license-testkit",
];
/// Database, cache and HTTP client drivers: an adapter's business, never core's.
const DRIVERS: [&str; 6] = [
    "sqlx",
    "sea-orm",
    "redis",
    "reqwest",
    "hyper",
    "tokio-postgres",
];
/// Web frameworks: the server's business, never core's.
const FRAMEWORKS: [&str; 4] = ["poem", "poem-openapi", "axum", "actix-web"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Normal,
    Build,
    Dev,
}

/// `value[key]` as a string.
fn str_at(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("cargo metadata: no string `{key}` in {value}"))
        .to_owned()
}

/// `value[key]` as an array.
fn array_at<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("cargo metadata: no array `{key}`"))
}

/// The resolved dependency graph, by package id.
#[derive(Debug, Default)]
struct Graph {
    /// The workspace members' ids.
    members: Vec<String>,
    /// Every package's name, by id.
    names: BTreeMap<String, String>,
    /// Every package's direct dependencies (id → how it is depended on), by id.
    deps: BTreeMap<String, BTreeMap<String, BTreeSet<Kind>>>,
}

impl Graph {
    fn from_metadata(metadata: &Value) -> Graph {
        let mut graph = Graph {
            members: array_at(metadata, "workspace_members")
                .iter()
                .map(|id| id.as_str().expect("a member id is a string").to_owned())
                .collect(),
            ..Graph::default()
        };
        for package in array_at(metadata, "packages") {
            graph
                .names
                .insert(str_at(package, "id"), str_at(package, "name"));
        }
        for node in array_at(&metadata["resolve"], "nodes") {
            let edges = graph.deps.entry(str_at(node, "id")).or_default();
            for dep in array_at(node, "deps") {
                let kinds = array_at(dep, "dep_kinds")
                    .iter()
                    .map(|k| match k["kind"].as_str() {
                        None => Kind::Normal,
                        Some("build") => Kind::Build,
                        Some("dev") => Kind::Dev,
                        Some(other) => panic!("cargo metadata: unknown dependency kind {other}"),
                    });
                edges.entry(str_at(dep, "pkg")).or_default().extend(kinds);
            }
        }
        graph
    }

    fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }

    fn member(&self, name: &str) -> Option<&str> {
        self.members
            .iter()
            .map(String::as_str)
            .find(|id| self.name(id) == name)
    }

    /// The shortest path, as names, from `from` to each package `is_bad` accepts, following
    /// only edges of the `follow` kinds and not going on past a bad package.
    fn bad_paths(&self, from: &str, follow: &[Kind], is_bad: impl Fn(&str) -> bool) -> Vec<String> {
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([from]);
        let mut found = Vec::new();
        while let Some(id) = queue.pop_front() {
            for (dep, kinds) in self.deps.get(id).into_iter().flatten() {
                if dep == from || parent.contains_key(dep.as_str()) {
                    continue;
                }
                if !kinds.iter().any(|kind| follow.contains(kind)) {
                    continue;
                }
                parent.insert(dep, id);
                if is_bad(self.name(dep)) {
                    found.push(dep.as_str());
                } else {
                    queue.push_back(dep);
                }
            }
        }
        let mut paths: Vec<String> = found
            .into_iter()
            .map(|bad| {
                let mut path = vec![self.name(bad)];
                let mut at = bad;
                while let Some(&up) = parent.get(at) {
                    path.push(self.name(up));
                    at = up;
                }
                path.reverse();
                path.join(" -> ")
            })
            .collect();
        paths.sort();
        paths
    }

    /// Every breach of the rule, one line each, naming the offending edge or path.
    fn violations(&self) -> Vec<String> {
        let mut found = BTreeSet::new();
        for name in ADAPTERS.iter().chain(&ROOTS).chain([&CORE]) {
            if self.member(name).is_none() {
                found.insert(format!(
                    "{name} is no workspace member: update the lists in {}",
                    file!()
                ));
            }
        }
        for adapter in ADAPTERS {
            found.extend(self.adapter_violations(adapter));
        }
        found.extend(self.core_violations());
        found.extend(self.several_adapters_violations());
        found.into_iter().collect()
    }

    /// An adapter imports no other adapter and no composition root: no direct dependency of
    /// any kind (dev-dependencies too), no normal or build dependency that reaches one.
    fn adapter_violations(&self, adapter: &str) -> Vec<String> {
        let Some(id) = self.member(adapter) else {
            return Vec::new();
        };
        let is_bad =
            |name: &str| (ADAPTERS.contains(&name) && name != adapter) || ROOTS.contains(&name);
        let direct = self
            .direct(id)
            .filter(|dep| is_bad(dep))
            .map(|dep| format!("{adapter} -> {dep}"));
        let reached = self.bad_paths(id, &[Kind::Normal, Kind::Build], is_bad);
        direct
            .chain(reached)
            .map(|path| {
                if ROOTS.contains(&last(&path)) {
                    format!("{path}: adapters never import a composition root (server, CLI)")
                } else {
                    format!("{path}: adapters never import each other")
                }
            })
            .collect()
    }

    /// Core's normal dependencies reach no adapter, composition root, driver or framework.
    fn core_violations(&self) -> Vec<String> {
        let Some(core) = self.member(CORE) else {
            return Vec::new();
        };
        let is_bad = |name: &str| {
            ADAPTERS.contains(&name)
                || ROOTS.contains(&name)
                || DRIVERS.contains(&name)
                || FRAMEWORKS.contains(&name)
        };
        self.bad_paths(core, &[Kind::Normal], is_bad)
            .into_iter()
            .map(|path| {
                let to = last(&path);
                let why = if ADAPTERS.contains(&to) {
                    "core imports no adapter"
                } else if ROOTS.contains(&to) {
                    "core imports no composition root (server, CLI)"
                } else if DRIVERS.contains(&to) {
                    "core depends on no driver"
                } else {
                    "core depends on no web framework"
                };
                format!("{path}: {why}")
            })
            .collect()
    }

    /// Only the packages in [`MAY_USE_SEVERAL_ADAPTERS`] depend on more than one adapter.
    fn several_adapters_violations(&self) -> Vec<String> {
        let mut found = Vec::new();
        for member in &self.members {
            let name = self.name(member);
            if MAY_USE_SEVERAL_ADAPTERS.contains(&name) {
                continue;
            }
            let adapters: BTreeSet<&str> = self
                .direct(member)
                .filter(|dep| ADAPTERS.contains(dep))
                .collect();
            if adapters.len() > 1 {
                let adapters: Vec<&str> = adapters.into_iter().collect();
                found.push(format!(
                    "{name} -> {}: only the server, the CLI, examples, benches and testkit use \
                     more than one adapter",
                    adapters.join(", ")
                ));
            }
        }
        found
    }

    /// The names of `id`'s direct dependencies of every kind.
    fn direct<'a>(&'a self, id: &str) -> impl Iterator<Item = &'a str> {
        self.deps
            .get(id)
            .into_iter()
            .flatten()
            .map(|(dep, _)| self.name(dep))
    }
}

/// The last package of a path `a -> b -> c`.
fn last(path: &str) -> &str {
    path.rsplit(" -> ").next().unwrap_or(path)
}

/// One `cargo metadata` call with the resolved graph, on the lockfile as it is. It reads the
/// crates already downloaded; a fresh clone downloads the other platforms' manifests once.
fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .unwrap_or_else(|e| panic!("running {cargo} metadata: {e}"));
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn dependencies_point_from_the_roots_through_the_adapters_to_core() {
    let violations = Graph::from_metadata(&metadata()).violations();
    assert!(
        violations.is_empty(),
        "the dependency rule (DESIGN.md §2) is broken:\n{}",
        violations.join("\n")
    );
}

/// A graph by package name, for the rule's own tests.
fn graph(members: &[&str], edges: &[(&str, &str, Kind)]) -> Graph {
    let mut graph = Graph {
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        ..Graph::default()
    };
    for (from, to, kind) in edges {
        for name in [from, to] {
            graph.names.insert((*name).to_owned(), (*name).to_owned());
        }
        graph
            .deps
            .entry((*from).to_owned())
            .or_default()
            .entry((*to).to_owned())
            .or_default()
            .insert(*kind);
    }
    graph
}

const WORKSPACE: [&str; 6] = [
    "license-core",
    "license-seats-redis",
    "license-store-pg",
    "license-signer-kms",
    "license-server",
    "license-cli",
];

#[test]
fn the_rule_names_every_offending_edge() {
    let g = graph(
        &[&WORKSPACE[..], &["license-testkit", "license-tool"]].concat(),
        &[
            ("license-store-pg", "license-seats-redis", Kind::Normal),
            ("license-signer-kms", "license-cli", Kind::Dev),
            ("license-core", "jsonwebtoken", Kind::Normal),
            ("jsonwebtoken", "reqwest", Kind::Normal),
            ("license-core", "poem", Kind::Normal),
            ("license-tool", "license-store-pg", Kind::Normal),
            ("license-tool", "license-signer-kms", Kind::Normal),
        ],
    );
    assert_eq!(
        g.violations(),
        [
            "license-core -> jsonwebtoken -> reqwest: core depends on no driver",
            "license-core -> poem: core depends on no web framework",
            "license-signer-kms -> license-cli: adapters never import a composition root \
             (server, CLI)",
            "license-store-pg -> license-seats-redis: adapters never import each other",
            "license-tool -> license-signer-kms, license-store-pg: only the server, the CLI, \
             examples, benches and testkit use more than one adapter",
        ]
    );
}

#[test]
fn the_rule_allows_the_arrows_it_describes() {
    let g = graph(
        &[&WORKSPACE[..], &["license-testkit", "license-examples"]].concat(),
        &[
            ("license-seats-redis", "license-core", Kind::Normal),
            ("license-seats-redis", "redis", Kind::Normal),
            ("license-seats-redis", "license-testkit", Kind::Dev),
            ("license-store-pg", "license-testkit", Kind::Dev),
            ("license-server", "license-seats-redis", Kind::Normal),
            ("license-server", "license-store-pg", Kind::Normal),
            ("license-server", "poem", Kind::Normal),
            ("license-examples", "license-store-pg", Kind::Dev),
            ("license-examples", "license-seats-redis", Kind::Dev),
            ("license-core", "license-testkit", Kind::Dev),
            ("license-testkit", "redis", Kind::Normal),
            ("license-core", "sqlx", Kind::Dev),
        ],
    );
    assert_eq!(g.violations(), Vec::<String>::new());
}
