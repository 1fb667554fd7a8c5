//! Database errors to core errors. The cause (which may quote SQL or values) goes to the log;
//! the returned error carries a fixed message, never SQL text or credentials.

use license_core::{Dependency, Error};
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, SqlErr};

/// Maps a sea-orm error to the core error a caller reacts to: unique violation → `Conflict`,
/// lost connection, timeout or a busy database → `Unavailable` (retryable), a malformed URL →
/// `InvalidInput { field: "store_url" }`, anything else → `Internal`.
pub(crate) fn db_err(err: DbErr) -> Error {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            tracing::debug!(error = %err, "store: unique constraint violated");
            return Error::Conflict("a record with the same unique value exists".into());
        }
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
            tracing::debug!(error = %err, "store: foreign key violated");
            return Error::Conflict("the change refers to a record that does not exist".into());
        }
        _ => {}
    }
    let kind = match &err {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => {
            Kind::Unavailable("timed out waiting for a database connection")
        }
        DbErr::ConnectionAcquire(_) => Kind::Unavailable("the database connection closed"),
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_kind(e),
        DbErr::Conn(_) => Kind::Unavailable("could not connect to the database"),
        _ => Kind::Internal,
    };
    match kind {
        Kind::Unavailable(reason) => {
            tracing::warn!(error = %err, "store: database unavailable");
            Error::unavailable(Dependency::Store, reason)
        }
        Kind::BadUrl => {
            tracing::warn!(error = %err, "store: bad database URL");
            Error::invalid("store_url", "is not a valid database URL")
        }
        Kind::Internal => {
            tracing::error!(error = %err, "store: database error");
            Error::Internal("database error".into())
        }
    }
}

/// A stored row that does not convert back to a domain value: a bug or a hand-edited database.
pub(crate) fn corrupt(what: &'static str, cause: impl std::fmt::Display) -> Error {
    tracing::error!(%cause, "store: stored {what} is invalid");
    Error::Internal(format!("stored {what} is invalid"))
}

enum Kind {
    Unavailable(&'static str),
    BadUrl,
    Internal,
}

fn sqlx_kind(err: &sqlx::Error) -> Kind {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => {
            Kind::Unavailable("lost the connection to the database")
        }
        sqlx::Error::PoolTimedOut => {
            Kind::Unavailable("timed out waiting for a database connection")
        }
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Kind::Unavailable("the database connection closed")
        }
        sqlx::Error::Configuration(_) => Kind::BadUrl,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let retryable = if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                sqlite_retryable(&code)
            } else {
                postgres_retryable(&code)
            };
            if retryable {
                Kind::Unavailable("the database is busy or restarting")
            } else {
                Kind::Internal
            }
        }
        _ => Kind::Internal,
    }
}

/// PostgreSQL SQLSTATEs after which a retry may succeed: class 08 (connection exception),
/// admin or crash shutdown, cannot connect now, too many connections, serialization failure,
/// deadlock, lock not available.
fn postgres_retryable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || matches!(
            sqlstate,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01" | "55P03"
        )
}

/// SQLite result codes after which a retry may succeed: `SQLITE_BUSY` and `SQLITE_LOCKED`,
/// extended codes included (their low byte is 5 or 6).
fn sqlite_retryable(code: &str) -> bool {
    code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_connection_codes_are_retryable_others_are_not() {
        for code in ["08006", "57P01", "40001", "40P01"] {
            assert!(postgres_retryable(code), "{code}");
        }
        for code in ["23505", "42501", "23503", "XX000"] {
            assert!(!postgres_retryable(code), "{code}");
        }
        for code in ["5", "517", "6", "262"] {
            assert!(sqlite_retryable(code), "{code}");
        }
        for code in ["19", "2067", "787", "1"] {
            assert!(!sqlite_retryable(code), "{code}");
        }
    }

    #[test]
    fn pool_timeout_is_unavailable_and_says_no_sql() {
        let e = db_err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        assert!(
            matches!(
                e,
                Error::Unavailable {
                    dependency: Dependency::Store,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn other_errors_are_internal_without_the_cause() {
        let e = db_err(DbErr::Custom("SELECT secret FROM t".into()));
        assert!(
            matches!(&e, Error::Internal(m) if !m.contains("SELECT")),
            "{e:?}"
        );
    }
}
