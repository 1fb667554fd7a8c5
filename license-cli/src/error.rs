//! The CLI's one error type and the exit code of each kind (see `cli::EXIT_CODES`).

use std::path::PathBuf;

use crate::client::ClientError;

/// Exit code: the server refused, could not be reached, or a file could not be used.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: bad flags or arguments.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: no seat is free on the license (or none came within the wait).
pub const EXIT_NO_SEATS: u8 = 3;
/// Exit code: the lease token did not verify.
pub const EXIT_INVALID_TOKEN: u8 = 4;
/// Exit code: an administrator evicted the session or holds this machine off (`evicted`).
pub const EXIT_EVICTED: u8 = 5;

/// Everything a command can fail with. Each prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error, or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Holding a seat failed (`license run`, through license-client).
    #[error(transparent)]
    Seat(#[from] license_client::Error),
    /// The arguments make no sense together (checked after clap).
    #[error("{0}")]
    Usage(String),
    /// A lease token failed offline verification.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// An exported range of the event log is not intact.
    #[error("the event log is not intact: {0}")]
    BrokenLog(String),
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Anything else, already worded for people.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Client(e)
                if matches!(
                    e.code(),
                    Some("no_seats_available" | "borrow_limit_reached")
                ) =>
            {
                EXIT_NO_SEATS
            }
            Error::Client(ClientError::Evicted { .. })
            | Error::Seat(license_client::Error::Evicted { .. }) => EXIT_EVICTED,
            Error::Seat(
                license_client::Error::NoSeats { .. }
                | license_client::Error::WaitEnded { .. }
                | license_client::Error::TicketGone { .. },
            ) => EXIT_NO_SEATS,
            Error::Seat(license_client::Error::InvalidToken(_)) => EXIT_INVALID_TOKEN,
            Error::Usage(_) | Error::Client(ClientError::InvalidId { .. }) => EXIT_USAGE,
            Error::InvalidToken(_) | Error::BrokenLog(_) => EXIT_INVALID_TOKEN,
            _ => EXIT_ERROR,
        }
    }

    /// An I/O error on `path`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// Result with the CLI's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
