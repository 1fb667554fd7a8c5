//! The store handle: connecting by URL, running migrations, and the tenant-scoped transactions
//! every query runs in.

use std::time::Duration;

use license_core::{Error, Result, TenantId};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::errors::db_err;
use crate::migrations::Migrator;

/// How long opening one connection may take before the store answers `unavailable`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a call waits for a pooled connection (including reconnecting) before the store
/// answers `unavailable`. Bounds every call while the database is down.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per PostgreSQL pool (per replica).
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
/// Connections per SQLite file pool: readers run in parallel, writers queue on the file lock.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// How long a SQLite writer waits for the file lock before giving up (`unavailable`).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Oldest PostgreSQL the store supports (`server_version_num`).
const MIN_POSTGRES_VERSION: i32 = 13_00_00;
/// `pg_advisory_xact_lock` key serialising migrations across replicas ("lic-migr").
const MIGRATION_LOCK_KEY: i64 = 0x6c69_632d_6d69_6772;

/// The durable store on PostgreSQL (production) or SQLite (the embedded default): one code
/// path on sea-orm for both. Implements every store port of `license-core`; cheap to clone
/// (clones share the pool).
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) db: DatabaseConnection,
}

/// Names the backend only: the pool's own `Debug` could show connection options.
impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Whether a transaction writes (SQLite takes the file's write lock at `BEGIN`, so two writers
/// queue instead of failing when one upgrades from reading).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

impl SqlStore {
    /// The URL schemes [`SqlStore::connect`] accepts (before `://`), so a composition root
    /// picks this adapter without keeping a list of its own.
    pub const SCHEMES: [&'static str; 3] = ["postgres", "postgresql", "sqlite"];

    /// Connects to `postgres://…` / `postgresql://…` or `sqlite://path?mode=rwc` /
    /// `sqlite::memory:`. Does not migrate: call [`SqlStore::migrate`].
    ///
    /// Errors: `InvalidInput { field: "store_url" }` for another scheme, a malformed URL or a
    /// too old PostgreSQL; `Unavailable` when the database does not answer within 5 seconds.
    pub async fn connect(url: &str) -> Result<SqlStore> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DbBackend::Postgres
        } else if url.starts_with("sqlite:") {
            DbBackend::Sqlite
        } else {
            return Err(Error::invalid(
                "store_url",
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        };
        // Parse first: a URL the driver rejects is a configuration error, and sea-orm's own
        // message for it would quote the URL (credentials included) into the log.
        let parsed = if backend == DbBackend::Postgres {
            url.parse::<sqlx::postgres::PgConnectOptions>().map(drop)
        } else {
            url.parse::<sqlx::sqlite::SqliteConnectOptions>().map(drop)
        };
        if parsed.is_err() {
            return Err(Error::invalid("store_url", "is not a valid database URL"));
        }
        let mut options = ConnectOptions::new(url);
        options
            .connect_timeout(CONNECT_TIMEOUT)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .sqlx_logging(false);
        if backend == DbBackend::Postgres {
            options.max_connections(POSTGRES_MAX_CONNECTIONS);
        } else {
            if is_sqlite_memory(url) {
                // Every connection to `:memory:` is a database of its own: keep exactly one,
                // forever.
                options
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            } else {
                options.max_connections(SQLITE_MAX_CONNECTIONS);
            }
            options.map_sqlx_sqlite_opts(|o| {
                o.foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            });
        }
        let db = Database::connect(options).await.map_err(db_err)?;
        let store = SqlStore { db };
        if backend == DbBackend::Postgres {
            store.check_postgres().await?;
        }
        Ok(store)
    }

    /// Brings the schema up to date. Idempotent. All pending migrations run in one
    /// transaction; on PostgreSQL that transaction first takes an advisory lock, so replicas
    /// starting together run them once, one after the other (on SQLite the transaction's write
    /// lock does the same).
    pub async fn migrate(&self) -> Result<()> {
        let txn = self
            .db
            .begin_with_options(write_options())
            .await
            .map_err(db_err)?;
        if self.backend() == DbBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [MIGRATION_LOCK_KEY.into()],
            ))
            .await
            .map_err(db_err)?;
        }
        Migrator::up(&txn, None).await.map_err(db_err)?;
        txn.commit().await.map_err(db_err)
    }

    /// Refuses PostgreSQL older than the minimum, and warns when the role bypasses
    /// Row-Level Security (superuser or `BYPASSRLS`): isolation then rests on the queries alone.
    async fn check_postgres(&self) -> Result<()> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT current_setting('server_version_num')::int4 AS version, \
                 (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) \
                 AS bypasses_rls",
            ))
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::Internal("no answer to the version query".into()))?;
        let version: i32 = row.try_get("", "version").map_err(db_err)?;
        if version < MIN_POSTGRES_VERSION {
            return Err(Error::invalid(
                "store_url",
                format!("needs PostgreSQL 13 or newer, the server is version {version}"),
            ));
        }
        let bypasses: Option<bool> = row.try_get("", "bypasses_rls").map_err(db_err)?;
        if bypasses.unwrap_or(false) {
            tracing::warn!(
                "store: the database role is a superuser or has BYPASSRLS, so row-level \
                 security does not apply; connect as an ordinary role in production"
            );
        }
        Ok(())
    }

    pub(crate) fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// A transaction scoped to `tenant`: on PostgreSQL it first sets `app.tenant_id` for the
    /// Row-Level Security policies (transaction-local, so a pooled connection never carries it
    /// into another call). Commit it explicitly; dropping it rolls back.
    pub(crate) async fn scoped(
        &self,
        tenant: TenantId,
        access: Access,
    ) -> Result<DatabaseTransaction> {
        let options = match access {
            Access::Read => TransactionOptions::default(),
            Access::Write => write_options(),
        };
        let txn = self.db.begin_with_options(options).await.map_err(db_err)?;
        self.rescope(&txn, tenant).await?;
        Ok(txn)
    }

    /// A write transaction scoped to no tenant (SQLite's cross-tenant webhook claim: SQLite
    /// has no row security).
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction> {
        self.db
            .begin_with_options(write_options())
            .await
            .map_err(db_err)
    }

    /// Points an open transaction's row-level security at `tenant` (PostgreSQL; SQLite has
    /// none, every query filters by tenant anyway).
    pub(crate) async fn rescope(&self, txn: &DatabaseTransaction, tenant: TenantId) -> Result<()> {
        if self.backend() == DbBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config('app.tenant_id', $1, true)",
                [tenant.to_string().into()],
            ))
            .await
            .map_err(db_err)?;
        }
        Ok(())
    }
}

/// `BEGIN IMMEDIATE` on SQLite; a plain `BEGIN` on PostgreSQL (the option is SQLite-only).
fn write_options() -> TransactionOptions {
    TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    }
}

fn is_sqlite_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn other_schemes_name_the_setting() {
        for url in [
            "mysql://localhost/db",
            "redis://x",
            "",
            "/var/lib/license.db",
        ] {
            match SqlStore::connect(url).await {
                Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "store_url"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_sqlite_memory("sqlite::memory:"));
        assert!(is_sqlite_memory("sqlite://file?mode=memory&cache=shared"));
        assert!(!is_sqlite_memory("sqlite:///var/lib/license.db?mode=rwc"));
    }
}
