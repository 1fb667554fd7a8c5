//! Borrow and return: a client takes a seat onto a laptop for a period and works offline; the
//! lease token is valid until the borrow ends, no heartbeat is due, and the seat counts against
//! the license until it ends or is returned (ADR 0025). A borrowed seat lives in the store for
//! its whole period, so a ledger rebuild restores it.

use std::time::Duration;

use crate::acquire::Applicant;
use crate::audit::Actor;
use crate::error::{Error, ErrorKind, Result};
use crate::events::SeatEventKind;
use crate::holder::Caller;
use crate::ids::{SessionId, TenantId};
use crate::license::{License, LicenseKey};
use crate::service::{Lease, LicenseService};
use crate::session::{EndReason, HardwareId, Session, UserEmail};

/// What borrow can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::InvalidInput,
    ErrorKind::NotFound,
    ErrorKind::LicenseInactive,
    ErrorKind::NoSeatsAvailable,
    ErrorKind::Excluded,
    ErrorKind::BorrowLimitReached,
    ErrorKind::HeldOff,
    // The machine holds an ordinary seat on the license (release it first), or another
    // person's session holds it.
    ErrorKind::Conflict,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// What return can return.
pub const RETURN_ERRORS: &[ErrorKind] = &[
    ErrorKind::InvalidInput,
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// The audit action of a return.
pub const RETURN_ACTION: &str = "session.return";

/// Checks a borrow period against the license: borrowing on, 1 second to its
/// `max_borrow_seconds`.
///
/// ```
/// use license_core::borrow::borrow_period;
/// use license_core::*;
/// # let now = chrono::Utc::now();
/// # let mut license = License {
/// #     id: LicenseId::new(), tenant_id: TenantId::new(),
/// #     key: LicenseKey::parse("ACME-0000-0001").unwrap(), product: "CAD".into(),
/// #     seats: SeatCount::new(2).unwrap(), overdraft: 0, status: LicenseStatus::Active,
/// #     expires_at: None, lease: LeasePolicy::default(), entitlements: vec![],
/// #     require_session_secret: false, rules: SeatRules::default(), policy: SeatPolicy::default(),
/// #     created_at: now, updated_at: now };
/// assert!(borrow_period(&license, 3600).is_err()); // borrowing is off
/// license.rules.max_borrow_seconds = 86_400;
/// assert_eq!(borrow_period(&license, 3600)?.as_secs(), 3600);
/// assert!(borrow_period(&license, 86_401).is_err());
/// # Ok::<(), Error>(())
/// ```
pub fn borrow_period(license: &License, seconds: u32) -> Result<Duration> {
    let max = license.rules.max_borrow_seconds;
    if max == 0 {
        return Err(Error::invalid(
            "borrow_seconds",
            "this license does not allow borrowing (its max_borrow_seconds is 0)",
        ));
    }
    if seconds == 0 || seconds > max {
        return Err(Error::invalid(
            "borrow_seconds",
            format!("must be between 1 and the license's max_borrow_seconds ({max})"),
        ));
    }
    Ok(Duration::from_secs(u64::from(seconds)))
}

impl LicenseService {
    /// Borrows a seat on the license with `key` for `seconds` (up to the license's
    /// `max_borrow_seconds`, while fewer than its `max_borrowed_seats` are out): the lease
    /// token is valid offline until the borrow ends and no heartbeat is due. Idempotent per
    /// machine like [`acquire`](Self::acquire): a retry returns the same borrow.
    ///
    /// Errors: see [`ERRORS`]. Emits `borrowed` (and `overdraft` for a grant beyond
    /// `seats_total`), `held` or `denied`.
    pub async fn borrow(
        &self,
        tenant: TenantId,
        holder: &Actor,
        key: &LicenseKey,
        hardware_id: &HardwareId,
        user_email: Option<UserEmail>,
        seconds: u32,
    ) -> Result<Lease> {
        let applicant = Applicant::machine(hardware_id.clone(), user_email);
        self.borrow_as(tenant, holder, key, &applicant, seconds)
            .await
    }

    /// [`borrow`](Self::borrow) with everything the client says about itself (see
    /// [`acquire_as`](Self::acquire_as)): the license's leasing strategy and policy apply to
    /// borrowed seats as to any.
    pub async fn borrow_as(
        &self,
        tenant: TenantId,
        holder: &Actor,
        key: &LicenseKey,
        applicant: &Applicant,
        seconds: u32,
    ) -> Result<Lease> {
        let license = self
            .policy
            .by_key(self.licenses.as_ref(), tenant, key)
            .await?;
        let period = borrow_period(&license, seconds)?;
        self.take_seat(&license, holder, applicant, Some(period), None)
            .await?
            .into_lease()
    }

    /// Returns a borrowed seat before its end. Only `caller` may, as for
    /// [`release`](Self::release). Idempotent: returning again answers the same record.
    ///
    /// Errors: see [`RETURN_ERRORS`]: `invalid_input` (`session_id`) for a session that is
    /// not borrowed.
    pub async fn return_borrowed(
        &self,
        tenant: TenantId,
        session_id: SessionId,
        caller: &Caller,
    ) -> Result<Session> {
        let session = self
            .directory
            .find_for(self.sessions.as_ref(), tenant, session_id, caller)
            .await?;
        if !session.borrowed {
            return Err(Error::invalid(
                "session_id",
                "is not a borrowed seat: release it instead",
            ));
        }
        let audit = self.client_end_audit(caller, RETURN_ACTION, &session);
        let ended = self
            .end(tenant, session_id, EndReason::Released, Some(&audit))
            .await?;
        if ended.by_this_call {
            self.emit(self.session_event(&ended.session, SeatEventKind::Returned));
        }
        Ok(ended.session)
    }
}
