//! The command line, as clap derive types. No behaviour lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// What every exit code means; shown at the end of `license --help` and `license run --help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    error: the server refused the request, could not be reached, or a file could not be used
  2    usage error (bad flags or arguments)
  3    no seat is free on the license (no_seats_available, borrow_limit_reached), or
       none came within --wait (the place in the queue is given up)
  4    the lease token is not valid (verify), or the event log's range is not intact
       (audit verify)
  5    evicted by an administrator (evicted): stop, and take no seat before the hold-off
       ends; `run` stops the command and exits 5 too
  run: the command's exit status (128 + N when signal N ended it; 127 when it was not
       found, 126 when it could not be started), or 5 when it was evicted, or 1 when the
       seat was lost otherwise (the lease ran out while the server was unreachable): the
       command is stopped then too; 128 + N when signal N came while it waited for a seat
       (--wait: the place in the queue is given up, the command never starts)";

/// A client for the floating-license server: admin, client, offline verification, keys, bench.
///
/// Connection settings come from flags, else environment variables, else the file written by
/// `license login` ($XDG_CONFIG_HOME/license/config.toml or ~/.config/license/config.toml).
#[derive(Debug, Parser)]
#[command(name = "license", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Where the server is, its credential and the tenant to act on.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// How results are printed: aligned tables for people, or JSON for scripts.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Connection flags; each falls back to its environment variable, then to the login file.
#[derive(Debug, Clone, Default, Args)]
pub struct ConnectionArgs {
    /// Base URL of the server [default: http://127.0.0.1:8080].
    #[arg(long, global = true, env = "LICENSE_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Bearer credential: the operator token or a tenant API key (`lk_…`).
    #[arg(
        long,
        global = true,
        env = "LICENSE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// The tenant the operator acts on (sent as X-Tenant-Id); tenant API keys need none.
    #[arg(
        long = "as-tenant",
        global = true,
        env = "LICENSE_TENANT",
        value_name = "ID"
    )]
    pub tenant: Option<String>,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned tables.
    Table,
    /// JSON, one document per command.
    Json,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Save the server URL and credential to the config file (mode 0600).
    Login(LoginArgs),
    /// Tenants (operator only).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Licenses of the tenant.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Live sessions of a license.
    #[command(subcommand)]
    Session(SessionCommand),
    /// API keys of the tenant.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// The tenant's lease-signing key.
    #[command(subcommand, name = "signing-key")]
    SigningKey(SigningKeyCommand),
    /// Clients waiting in a license's queue.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Webhook endpoints of the tenant: seat events POSTed, signed (Standard Webhooks).
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// A license's live seats and daily peaks; reports by user, host or group (`--by`, CSV
    /// with `--format csv`); signed daily statements.
    Usage(UsageArgs),
    /// The tenant's audit log, newest first; `export` and `verify` the seat-event log.
    Audit(AuditArgs),
    /// Take a seat (client).
    Acquire(AcquireArgs),
    /// Borrow a seat for offline work (client): no heartbeat needed until it ends.
    ///
    /// The lease token is valid offline until the borrow ends; the seat counts against the
    /// license until then or until `license return`. A heartbeat is a check-in: it keeps the
    /// end, and answers `evicted` (exit 5) if an administrator revoked the seat.
    #[command(after_help = EXIT_CODES)]
    Borrow(BorrowArgs),
    /// Return a borrowed seat before its end (client).
    Return(ClientSessionArgs),
    /// Renew a seat (client).
    Heartbeat(ClientSessionArgs),
    /// Release a seat (client).
    Release(ClientSessionArgs),
    /// Hold a seat while a command runs: acquire, heartbeat, release when it exits.
    ///
    /// Heartbeats follow the server's interval; a lost seat is acquired again. Ctrl-C reaches
    /// the command from the terminal, SIGTERM and SIGHUP are forwarded to it; the seat is
    /// released when it exits. The command sees its session id in LICENSE_SESSION_ID.
    ///
    /// Evicted by an administrator: the command gets SIGTERM (and --kill-after seconds), the
    /// reason and the end of any hold-off are printed, no seat is taken again, and `run`
    /// exits 5.
    ///
    /// With --wait, a full license is waited for in its queue (if it has one: `license
    /// license update --max-wait-seconds`): each new position is printed on stderr, and the
    /// command starts when its turn comes. The wait ending exits 3; Ctrl-C or SIGTERM while
    /// waiting gives the place up and exits 130 or 143.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Verify a lease token offline against a JWKS; prints its claims.
    #[command(after_help = EXIT_CODES)]
    Verify(VerifyArgs),
    /// Local signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// HTTP load scenario: clients acquire, heartbeat k times, release.
    Bench(BenchArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// `license login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Read the credential from this file (e.g. the server's `<data_dir>/operator-token`).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Save without checking the credential against the server.
    #[arg(long)]
    pub no_verify: bool,
}

/// `license tenant …`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and its first admin API key (the secret is shown once).
    Create {
        /// Display name, unique on the server.
        name: String,
    },
    /// List every tenant.
    List,
}

/// `license license …`.
#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Create a license.
    Create(LicenseCreateArgs),
    /// List licenses, oldest first.
    List(LicenseListArgs),
    /// Show one license.
    Show(LicenseIdArg),
    /// Change a license's terms; flags left out stay as they are.
    Update(LicenseUpdateArgs),
    /// Suspend a license: no new seats, live sessions end at their next heartbeat.
    Suspend(LicenseIdArg),
    /// Reinstate a suspended license.
    Reinstate(LicenseIdArg),
    /// Revoke a license for good.
    Revoke(LicenseIdArg),
    /// A license's seat policy: groups, and reserve / max / include / exclude rules.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

/// `license license policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the policy as an options file (or as JSON with --json).
    Show {
        /// The license id.
        #[arg(value_name = "LICENSE_ID")]
        id: String,
        /// Print the JSON the server holds instead of options-file text.
        #[arg(long)]
        json: bool,
    },
    /// Replace the policy with the one in an options file (see docs/policies.md).
    Set {
        /// The license id.
        #[arg(value_name = "LICENSE_ID")]
        id: String,
        /// The options file (GROUP, RESERVE, MAX, INCLUDE, EXCLUDE lines), or with --json a
        /// JSON policy (`{"groups": […], "rules": […]}`).
        #[arg(long, value_name = "PATH")]
        file: std::path::PathBuf,
        /// The file is JSON, not options-file text.
        #[arg(long)]
        json: bool,
    },
    /// Remove every group and rule: anyone with the key may take any free seat.
    Clear {
        /// The license id.
        #[arg(value_name = "LICENSE_ID")]
        id: String,
    },
}

/// Who a seat is for (`--leasing`).
// The values are the strategies' names (per-machine, …), not a prefix to strip.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Leasing {
    /// One seat per machine (hardware id).
    PerMachine,
    /// One seat per person (user e-mail or signed-in user), from any machine.
    PerUser,
    /// One seat per process (hardware id and process id).
    PerProcess,
}

impl Leasing {
    /// The server's name for it.
    pub fn wire(self) -> &'static str {
        match self {
            Leasing::PerMachine => "per_machine",
            Leasing::PerUser => "per_user",
            Leasing::PerProcess => "per_process",
        }
    }
}

/// A license id.
#[derive(Debug, Args)]
pub struct LicenseIdArg {
    /// The license id.
    #[arg(value_name = "LICENSE_ID")]
    pub id: String,
}

/// `license license create`.
#[derive(Debug, Args)]
pub struct LicenseCreateArgs {
    /// Product name.
    #[arg(long)]
    pub product: String,
    /// Seats sold.
    #[arg(long)]
    pub seats: u32,
    /// Extra seats tolerated above --seats.
    #[arg(long)]
    pub overdraft: Option<u32>,
    /// The key clients present (8–64 of A–Z a–z 0–9 - _); generated when absent. A chosen
    /// key must be hard to guess (about 20 random letters and digits).
    #[arg(long = "key", value_name = "LICENSE_KEY")]
    pub license_key: Option<String>,
    /// Accept a chosen --key that is easy to guess (one already in customers' hands).
    #[arg(long, requires = "license_key")]
    pub allow_weak_key: bool,
    /// No seats after this instant (RFC 3339, e.g. 2027-01-01T00:00:00Z); perpetual if absent.
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,
    /// Seconds a seat is held without a heartbeat [server default: 360].
    #[arg(long, value_name = "SECONDS")]
    pub ttl: Option<u32>,
    /// Seconds clients wait between heartbeats [server default: 120].
    #[arg(long, value_name = "SECONDS")]
    pub heartbeat_interval: Option<u32>,
    /// A feature granted (repeat for several).
    #[arg(long = "entitlement", value_name = "NAME")]
    pub entitlements: Vec<String>,
    /// Give each session a secret that its heartbeats and releases must present (for apps
    /// that share one client API key).
    #[arg(long)]
    pub require_session_secret: bool,
    /// The seat rules: borrowing, linger, minimum hold, daily overdraft cap.
    #[command(flatten)]
    pub rules: RulesArgs,
}

/// A license's seat rules (create and update): absent flags are the server's default on
/// create, unchanged on update.
#[derive(Debug, Clone, Default, Args)]
pub struct RulesArgs {
    /// Longest borrow for offline work (seconds or 90s, 10m, 12h, 7d; at most 14d); 0 lends
    /// no seats [server default: 0].
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::seconds)]
    pub max_borrow: Option<u32>,
    /// Most seats borrowed at once [server default: no cap].
    #[arg(long, value_name = "SEATS")]
    pub max_borrowed_seats: Option<u32>,
    /// After a release, keep the seat for its machine this long (at most 1d) [server
    /// default: 0].
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::seconds)]
    pub linger: Option<u32>,
    /// A force-release of a session younger than this needs --force (at most 1d) [server
    /// default: 0].
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::seconds)]
    pub min_hold: Option<u32>,
    /// Most overdraft seat-minutes per UTC day (at most overdraft × 1440) [server default:
    /// no cap].
    #[arg(long, value_name = "MINUTES")]
    pub overdraft_minutes_per_day: Option<u32>,
    /// Who a seat is for: per-machine, per-user or per-process [server default:
    /// per-machine].
    #[arg(long, value_name = "STRATEGY")]
    pub leasing: Option<Leasing>,
    /// Per-process leasing: most processes of one machine holding seats at once (1–1000)
    /// [server default: no cap].
    #[arg(long, value_name = "N")]
    pub max_processes_per_host: Option<u32>,
    /// Longest a refused acquire may wait in the license's queue for a seat (seconds or 90s,
    /// 10m, 12h; at most 1d); 0: no queue [server default: 0].
    #[arg(long, value_name = "SECONDS", value_parser = crate::duration::seconds)]
    pub max_wait_seconds: Option<u32>,
    /// Most clients waiting in the queue at once (1–10000) [server default: 1000].
    #[arg(long, value_name = "N")]
    pub max_queue_length: Option<u32>,
}

/// `license license list`.
#[derive(Debug, Args)]
pub struct LicenseListArgs {
    /// Page size (1–500).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Start after this license id (the previous page's last).
    #[arg(long, value_name = "LICENSE_ID")]
    pub after: Option<String>,
    /// Follow every page.
    #[arg(long, conflicts_with = "after")]
    pub all: bool,
}

/// `license license update`.
#[derive(Debug, Args)]
pub struct LicenseUpdateArgs {
    /// The license id.
    #[arg(value_name = "LICENSE_ID")]
    pub id: String,
    /// New seat count.
    #[arg(long)]
    pub seats: Option<u32>,
    /// New overdraft.
    #[arg(long)]
    pub overdraft: Option<u32>,
    /// New expiry (RFC 3339).
    #[arg(long, value_name = "TIME", conflicts_with = "perpetual")]
    pub expires_at: Option<String>,
    /// Remove the expiry.
    #[arg(long)]
    pub perpetual: bool,
    /// New TTL in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub ttl: Option<u32>,
    /// New heartbeat interval in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub heartbeat_interval: Option<u32>,
    /// Replace the entitlements (repeat for several).
    #[arg(
        long = "entitlement",
        value_name = "NAME",
        conflicts_with = "clear_entitlements"
    )]
    pub entitlements: Vec<String>,
    /// Remove every entitlement.
    #[arg(long)]
    pub clear_entitlements: bool,
    /// Whether sessions acquired from now on get a secret (running ones keep theirs).
    #[arg(long, value_name = "BOOL")]
    pub require_session_secret: Option<bool>,
    /// New seat rules (seats already borrowed keep their end).
    #[command(flatten)]
    pub rules: RulesArgs,
    /// Remove the cap on seats borrowed at once.
    #[arg(long, conflicts_with = "max_borrowed_seats")]
    pub clear_max_borrowed_seats: bool,
    /// Remove the daily cap on overdraft seat-minutes.
    #[arg(long, conflicts_with = "overdraft_minutes_per_day")]
    pub clear_overdraft_minutes_per_day: bool,
    /// Remove the cap on processes per machine.
    #[arg(long, conflicts_with = "max_processes_per_host")]
    pub clear_max_processes_per_host: bool,
    /// Set the queue's length back to the server's default (1000).
    #[arg(long, conflicts_with = "max_queue_length")]
    pub clear_max_queue_length: bool,
}

/// `license session …`.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List a license's live sessions (every page), oldest acquired first.
    List(SessionListArgs),
    /// List a license's borrowed seats (every page), oldest acquired first.
    Borrowed(SessionListArgs),
    /// Force-release (evict) a session: its seat is free now.
    ///
    /// Its next heartbeat answers `evicted` with the reason; `license run` stops its command.
    /// With --hold-off, its machine (and person) gets `evicted` on acquire and borrow until
    /// the hold-off ends. A borrowed seat's token stays valid offline until its end: the
    /// client learns of the eviction at its next check-in.
    #[command(visible_alias = "evict")]
    Release(SessionReleaseArgs),
}

/// `license queue …`.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// List who waits for a seat of a license, first in line first (priority, then arrival).
    List {
        /// The license id.
        #[arg(value_name = "LICENSE_ID")]
        id: String,
    },
}

/// `license session release` (`evict`).
#[derive(Debug, Args)]
pub struct SessionReleaseArgs {
    /// The session id.
    #[arg(value_name = "SESSION_ID")]
    pub id: String,
    /// Hold the machine and person off this long (seconds or 90s, 10m, 12h, 7d; at most 30d).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::seconds)]
    pub hold_off: Option<u32>,
    /// Why (the evicted client is told).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Evict even a session younger than its license's minimum hold.
    #[arg(long)]
    pub force: bool,
}

/// `license session list`.
#[derive(Debug, Args)]
pub struct SessionListArgs {
    /// The license id.
    #[arg(value_name = "LICENSE_ID")]
    pub id: String,
    /// Sessions fetched per request (1–500); every page is followed.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub page_size: u32,
}

/// A session id.
#[derive(Debug, Args)]
pub struct SessionIdArg {
    /// The session id.
    #[arg(value_name = "SESSION_ID")]
    pub id: String,
}

/// A session of this client: its id and, when its license requires one, its secret.
#[derive(Debug, Args)]
pub struct ClientSessionArgs {
    /// The session id.
    #[arg(value_name = "SESSION_ID")]
    pub id: String,
    /// The session secret acquire printed, for licenses that require one (prefer the
    /// environment variable: other users can see command lines).
    #[arg(
        long,
        env = "LICENSE_SESSION_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub session_secret: Option<String>,
}

impl ClientSessionArgs {
    /// The secret to send: none when absent or empty (`LICENSE_SESSION_SECRET=` in a script
    /// whose license asks for none).
    pub fn secret(&self) -> Option<&str> {
        self.session_secret.as_deref().filter(|s| !s.is_empty())
    }
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Acquire, heartbeat, release.
    Client,
    /// Manage licenses, sessions, keys, usage.
    Admin,
}

/// `license api-key …`.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key (the secret is shown once).
    Create {
        /// A label.
        #[arg(long)]
        name: String,
        /// What it may do (repeat for both).
        #[arg(long = "scope", value_enum, default_values_t = [ScopeArg::Client])]
        scopes: Vec<ScopeArg>,
    },
    /// List API keys (never their secrets).
    List,
    /// Revoke an API key.
    Revoke {
        /// The API key id.
        #[arg(value_name = "API_KEY_ID")]
        id: String,
    },
}

/// `license webhooks …`.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Create an endpoint (its signing secret is shown once). Only events from now on are sent.
    Create {
        /// `https://…` where events are POSTed.
        #[arg(long)]
        url: String,
        /// Event types to send, comma-separated (docs/events.md); default: all.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List endpoints (never their secrets).
    List,
    /// Show one endpoint: its cursor and failure state.
    Show {
        /// The webhook id.
        #[arg(value_name = "WEBHOOK_ID")]
        id: String,
    },
    /// Change an endpoint; flags left out stay as they are.
    Update {
        /// The webhook id.
        #[arg(value_name = "WEBHOOK_ID")]
        id: String,
        /// A new URL.
        #[arg(long)]
        url: Option<String>,
        /// New event types, comma-separated; `all` for every type.
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        /// Enable it (clears a backoff and a disabled reason) or disable it.
        #[arg(long)]
        enabled: Option<bool>,
        /// A new description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete an endpoint and its delivery log.
    Delete {
        /// The webhook id.
        #[arg(value_name = "WEBHOOK_ID")]
        id: String,
    },
    /// An endpoint's latest deliveries, newest first.
    Deliveries {
        /// The webhook id.
        #[arg(value_name = "WEBHOOK_ID")]
        id: String,
        /// How many at most (1–1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Give an endpoint a new signing secret (shown once); the old one keeps signing next to
    /// it for 24 hours, so the receiver can switch at its own pace.
    RotateSecret {
        /// The webhook id.
        #[arg(value_name = "WEBHOOK_ID")]
        id: String,
    },
    /// Send the seat-event log again from entry N (same webhook-ids: receivers deduplicate).
    Redeliver {
        /// The webhook id.
        #[arg(value_name = "WEBHOOK_ID")]
        id: String,
        /// The first log number to send again.
        #[arg(long)]
        from_seq: u64,
    },
}

/// `license signing-key …`.
#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// Make a new key that signs the tenant's leases from now on.
    ///
    /// After a leak, pass --revoke-previous: earlier keys are no longer published, so leases
    /// they signed stop verifying once applications refetch the tenant's key set.
    Rotate {
        /// Revoke every earlier key.
        #[arg(long)]
        revoke_previous: bool,
    },
}

/// `license usage`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct UsageArgs {
    /// Signed daily statements: get one, verify one offline.
    #[command(subcommand)]
    pub command: Option<UsageCommand>,
    /// The license id.
    #[arg(value_name = "LICENSE_ID")]
    pub id: Option<String>,
    /// First UTC day (YYYY-MM-DD) [default: 29 days before --to].
    #[arg(long, value_name = "DAY")]
    pub from: Option<String>,
    /// Last UTC day (YYYY-MM-DD) [default: today].
    #[arg(long, value_name = "DAY")]
    pub to: Option<String>,
    /// A report from the seat-event log, with rows per `license`, `user`, `host` or `group`
    /// [default: license, when --bucket or --format asks for a report].
    #[arg(long, value_enum)]
    pub by: Option<ReportBy>,
    /// The report's rows per `day` or `hour` (at most 31 days) [default: day].
    #[arg(long, value_enum)]
    pub bucket: Option<ReportBucket>,
    /// Write the report as `csv` or `ndjson` (to --out, or standard output).
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// The file the report is written to (with --format).
    #[arg(long, value_name = "FILE", requires = "format")]
    pub out: Option<std::path::PathBuf>,
}

/// Rows of a usage report per …
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportBy {
    /// The whole license.
    License,
    /// The person a seat is for.
    User,
    /// The machine (hardware id).
    Host,
    /// Each group of the license's policy.
    Group,
}

/// Rows of a usage report per UTC day or hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportBucket {
    /// UTC days.
    Day,
    /// UTC hours.
    Hour,
}

/// A usage report written as a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// CSV with a header line.
    Csv,
    /// One JSON row a line.
    Ndjson,
}

/// `license usage statement|verify-statement`.
#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Have the server sign a license's figures for an ended UTC day (peak, seat time,
    /// overdraft, denials) with the tenant's key.
    Statement(StatementArgs),
    /// Check a statement offline against the tenant's keys and print what it says.
    #[command(name = "verify-statement", after_help = EXIT_CODES)]
    VerifyStatement(StatementVerifyArgs),
}

/// `license usage statement`.
#[derive(Debug, Args)]
pub struct StatementArgs {
    /// The license id.
    #[arg(value_name = "LICENSE_ID")]
    pub id: String,
    /// The UTC day (YYYY-MM-DD) [default: yesterday].
    #[arg(long, value_name = "DAY")]
    pub day: Option<String>,
    /// Also write the statement (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

/// `license usage verify-statement`.
#[derive(Debug, Args)]
pub struct StatementVerifyArgs {
    /// The statement: `license usage statement`'s JSON file, or the bare JWS (`-`: stdin).
    #[arg(value_name = "FILE")]
    pub file: String,
    /// The tenant whose statement it must be.
    #[arg(long, value_name = "ID")]
    pub tenant: String,
    /// Where the tenant's keys come from.
    #[command(flatten)]
    pub keys: KeySourceArgs,
}

/// `license audit`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    /// The seat-event log: export a range, verify one offline.
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// How many of the most recent admin changes (1–500).
    #[arg(long)]
    pub limit: Option<u32>,
}

/// `license audit export|verify`: the tenant's seat-event log (every seat event, numbered
/// and hash-chained).
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write the seat-event log's entries after `--after` as NDJSON (one entry a line).
    Export(AuditExportArgs),
    /// Have the server sign, with the tenant's key, that entry `--seq` of the log has the
    /// hash it has now: keep it, and verify ranges against it.
    Checkpoint(AuditCheckpointArgs),
    /// Check an exported range offline: every entry intact, numbered one after the other,
    /// linked to the one before; with `--tenant`, its checkpoint entries verified against the
    /// tenant's key; with `--checkpoint`, vouched for by that checkpoint too. Exit 4 names the
    /// first entry at fault.
    #[command(after_help = EXIT_CODES)]
    Verify(AuditVerifyArgs),
}

/// `license audit checkpoint`.
#[derive(Debug, Args)]
pub struct AuditCheckpointArgs {
    /// The entry to vouch for (the last one of a range you exported).
    #[arg(long)]
    pub seq: u64,
    /// Also write the checkpoint (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

/// `license audit export`.
#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// Entries numbered after this one (0: from the start).
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// The file to write [default: standard output].
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Also have the server sign a checkpoint of the last entry exported, into this file.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<std::path::PathBuf>,
}

/// `license audit verify`.
#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// The NDJSON file `license audit export` wrote (`-`: standard input).
    #[arg(value_name = "FILE")]
    pub file: String,
    /// The hash of the entry the range follows (from an earlier verified range), when it does
    /// not start at entry 1.
    #[arg(long, value_name = "HASH")]
    pub after_hash: Option<String>,
    /// A checkpoint (`license audit checkpoint`'s JSON, or the bare JWS) the range must agree
    /// with: its entry in the range with its hash, signed by the tenant's key.
    #[arg(long, value_name = "FILE", requires = "tenant")]
    pub checkpoint: Option<String>,
    /// The tenant whose log it is: with it, the range's own `checkpoint` entries (signed at
    /// a fixed interval by the server) are checked too; needed with `--checkpoint`.
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
    /// Where the tenant's keys come from (with `--tenant`).
    #[command(flatten)]
    pub keys: KeySourceArgs,
}

/// The seat a client asks for.
#[derive(Debug, Clone, Args)]
pub struct SeatArgs {
    /// The license key.
    #[arg(long, env = "LICENSE_KEY", hide_env_values = true)]
    pub license_key: String,
    /// This machine's id [default: SHA-256 of /etc/machine-id, else of the host name].
    #[arg(long)]
    pub hardware_id: Option<String>,
    /// Who uses the seat, for usage reports and seat policies (required by a per-user
    /// license).
    #[arg(long)]
    pub user_email: Option<String>,
    /// This host's name, as seat policies match it [default: the system host name]. What the
    /// client says: the server cannot check it.
    #[arg(long)]
    pub host_name: Option<String>,
    /// Which process asks, for per-process leasing [default: this process's id; under
    /// `license run`, the id of the `license` process that supervises the command].
    #[arg(long)]
    pub process_id: Option<String>,
}

/// `license acquire`.
#[derive(Debug, Args)]
pub struct AcquireArgs {
    /// The seat.
    #[command(flatten)]
    pub seat: SeatArgs,
    /// When no seat is free, wait up to this long in the license's queue (seconds or 90s,
    /// 10m, 2h), printing the position on stderr.
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::seconds)]
    pub wait: Option<u32>,
}

/// `license borrow`.
#[derive(Debug, Args)]
pub struct BorrowArgs {
    /// The seat.
    #[command(flatten)]
    pub seat: SeatArgs,
    /// How long (seconds or 90s, 10m, 12h, 7d), up to the license's longest borrow.
    #[arg(long = "for", value_name = "DURATION", value_parser = crate::duration::seconds)]
    pub period: u32,
}

/// `license run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The seat.
    #[command(flatten)]
    pub seat: SeatArgs,
    /// After Ctrl-C or SIGTERM, seconds the command gets to exit before it is killed (a second
    /// signal kills it at once).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub kill_after: u64,
    /// When no seat is free, wait up to this long in the license's queue (seconds or 90s,
    /// 10m, 2h; cut to the license's longest wait), printing each new position on stderr.
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::seconds)]
    pub wait: Option<u32>,
    /// Report every heartbeat on stderr.
    #[arg(long, short)]
    pub verbose: bool,
    /// The command and its arguments (after `--`).
    #[arg(required = true, last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `license verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The lease token (`-` reads it from stdin).
    pub token: String,
    /// The tenant whose lease it must be (its `aud` and `tid`): another tenant's lease fails.
    #[arg(long, value_name = "ID")]
    pub tenant: String,
    /// The license it must be for (its `lic`), if any.
    #[arg(long, value_name = "ID")]
    pub license: Option<String>,
    /// Where the tenant's keys come from.
    #[command(flatten)]
    pub keys: KeySourceArgs,
}

/// Where an offline check finds the tenant's keys (leases, checkpoints, statements).
#[derive(Debug, Clone, Args)]
pub struct KeySourceArgs {
    /// The tenant's key set: a file, or an http(s) URL
    /// [default: SERVER/api/v1/tenants/TENANT/jwks.json].
    #[arg(long, value_name = "FILE|URL")]
    pub jwks: Option<String>,
    /// Root keys to pin (a file, or SERVER/.well-known/jwks.json): only tenant keys whose
    /// certificate they sign are trusted. Without it, the key set is trusted as read.
    #[arg(long, value_name = "FILE|URL")]
    pub root: Option<String>,
    /// The issuer it must name (the server's `issuer` setting).
    #[arg(long, default_value = "license-server")]
    pub issuer: String,
}

/// `license keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a local signing key (PKCS#8 DER, mode 0600) and print its public JWK.
    ///
    /// The server loads `<data_dir>/signing-key-<algorithm>.pk8` (e.g. signing-key-eddsa.pk8)
    /// with `signer.algorithm` set to the same algorithm.
    Generate(KeysGenerateArgs),
}

/// Signing algorithms of local keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgorithmArg {
    /// Ed25519.
    #[value(name = "EdDSA", alias = "eddsa")]
    EdDSA,
    /// RSA-3072, PKCS#1 v1.5.
    #[value(name = "RS256", alias = "rs256")]
    RS256,
    /// RSA-3072, PSS.
    #[value(name = "PS256", alias = "ps256")]
    PS256,
    /// P-256.
    #[value(name = "ES256", alias = "es256")]
    ES256,
}

/// `license keys generate`.
#[derive(Debug, Args)]
pub struct KeysGenerateArgs {
    /// The algorithm.
    #[arg(long, value_enum, default_value_t = AlgorithmArg::EdDSA)]
    pub algorithm: AlgorithmArg,
    /// Where to write the private key.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// `license bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The license the clients take seats on (the token must be a client-scope API key).
    #[arg(long, env = "LICENSE_KEY", hide_env_values = true)]
    pub license_key: String,
    /// Clients to run; each acquires, heartbeats --heartbeats times, releases.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub clients: u32,
    /// Clients in flight at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// Heartbeats per client.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub heartbeats: u32,
    /// Hard cap on the run, in seconds: no client starts after it, held seats are released.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub duration: u64,
    /// Cap on the number of requests (a client starts only if all its requests fit).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub requests: Option<u64>,
    /// Allow a server that is not on loopback.
    #[arg(long)]
    pub allow_remote: bool,
    /// Print the result as JSON (like --output json) and hide the progress bar.
    #[arg(long)]
    pub json: bool,
}

/// `license completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_the_command_after_the_double_dash() {
        let cli = Cli::try_parse_from([
            "license",
            "run",
            "--license-key",
            "KEY-12345",
            "--",
            "myapp",
            "--flag",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(run.command, ["myapp", "--flag"]);
    }

    #[test]
    fn durations_are_read_as_people_write_them() {
        let cli = Cli::try_parse_from([
            "license",
            "borrow",
            "--license-key",
            "KEY-12345",
            "--for",
            "7d",
        ])
        .unwrap();
        let Command::Borrow(borrow) = cli.command else {
            panic!("expected borrow")
        };
        assert_eq!(borrow.period, 604_800);
        let cli =
            Cli::try_parse_from(["license", "session", "evict", "S", "--hold-off", "10m"]).unwrap();
        let Command::Session(SessionCommand::Release(evict)) = cli.command else {
            panic!("expected session release")
        };
        assert_eq!((evict.hold_off, evict.force), (Some(600), false));
        assert!(
            Cli::try_parse_from(["license", "borrow", "--license-key", "K", "--for", "soon"])
                .is_err()
        );
    }
}
