//! Who a seat is for: a license leases per machine (the default), per user, or per process
//! (ADR 0026). The strategy decides the seat's key in the ledger, and so what a retried
//! acquire gets back: the same machine's seat, the same user's seat (from any machine), or
//! the same process's seat.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::license::validate_token_chars;
use crate::seat_ledger::UserRef;
use crate::session::HardwareId;

/// How a license keys its seats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeasingStrategy {
    /// One seat per hardware id, whoever uses it.
    #[default]
    PerMachine,
    /// One seat per person: the OIDC subject of a signed-in caller, else the `user_email` the
    /// client asserts (a client key's word; documented as such).
    PerUser,
    /// One seat per running process of a machine (`process_id`), at most the license's
    /// `max_processes_per_host` per machine.
    PerProcess,
}

impl LeasingStrategy {
    /// The stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            LeasingStrategy::PerMachine => "per_machine",
            LeasingStrategy::PerUser => "per_user",
            LeasingStrategy::PerProcess => "per_process",
        }
    }

    /// The ledger key of the seat asked for, when it is not the machine itself (`None` for
    /// per-machine leasing). Errors name the missing field: `user_email` (per user, nobody
    /// known) or `process_id` (per process).
    ///
    /// ```
    /// use license_core::{HardwareId, LeasingStrategy, ProcessId};
    /// let hw = HardwareId::parse("pc-1")?;
    /// assert!(LeasingStrategy::PerMachine.seat_key(&hw, None, None)?.is_none());
    /// let pid = ProcessId::parse("4711")?;
    /// let key = LeasingStrategy::PerProcess.seat_key(&hw, None, Some(&pid))?.unwrap();
    /// assert_ne!(key, hw);
    /// let missing = LeasingStrategy::PerUser.seat_key(&hw, None, None).unwrap_err();
    /// assert_eq!(missing.code(), "invalid_input");
    /// # Ok::<(), license_core::Error>(())
    /// ```
    pub fn seat_key(
        self,
        hardware_id: &HardwareId,
        user: Option<&UserRef>,
        process: Option<&ProcessId>,
    ) -> Result<Option<HardwareId>> {
        match self {
            LeasingStrategy::PerMachine => Ok(None),
            LeasingStrategy::PerUser => match user {
                Some(user) => Ok(Some(HardwareId::of_user(user))),
                None => Err(Error::invalid(
                    "user_email",
                    "this license leases a seat per user: send user_email or sign in",
                )),
            },
            LeasingStrategy::PerProcess => match process {
                Some(process) => Ok(Some(HardwareId::of_process(hardware_id, process))),
                None => Err(Error::invalid(
                    "process_id",
                    "this license leases a seat per process: send process_id",
                )),
            },
        }
    }
}

/// The name a client reports for its host (matched by `host:` group members and `max` rules):
/// 1–253 characters of letters, digits, `.`, `-`, `_`; compared case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostName(String);

impl HostName {
    /// Longest accepted name.
    pub const MAX_LEN: usize = 253;

    /// Validates a host name (stored lower-cased).
    pub fn parse(name: &str) -> Result<Self> {
        validate_token_chars("host_name", name, 1, Self::MAX_LEN, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
        })?;
        Ok(Self(name.to_ascii_lowercase()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HostName {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<HostName> for String {
    fn from(name: HostName) -> Self {
        name.0
    }
}

/// Which process of a machine asks (per-process leasing): 1–64 characters of letters,
/// digits, `.`, `-`, `_`, `:`. A process id reused after a crash gets the crashed process's
/// seat back, as a machine does under per-machine leasing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProcessId(String);

impl ProcessId {
    /// Longest accepted id.
    pub const MAX_LEN: usize = 64;

    /// Validates a process id.
    pub fn parse(id: &str) -> Result<Self> {
        validate_token_chars("process_id", id, 1, Self::MAX_LEN, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')
        })?;
        Ok(Self(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProcessId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<ProcessId> for String {
    fn from(id: ProcessId) -> Self {
        id.0
    }
}
