//! Status codes, the thread's last error, and [`guarded`], which every entry point runs in.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use license_client::Error;

/// What a call did. `LC_STATUS_OK` is 0; every other value has a message in
/// `lc_last_error()`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LcStatus {
    /// Success.
    Ok = 0,
    /// A required pointer was NULL, a string was not UTF-8, or a key set was not JSON.
    InvalidArgument = 1,
    /// Every seat is taken: try again later.
    NoSeats = 2,
    /// An administrator evicted the session or holds this machine off: stop, do not retry
    /// before the hold-off ends (see the message).
    Evicted = 3,
    /// The license key is unknown, or the license is suspended, revoked or expired.
    LicenseInvalid = 4,
    /// The credential is missing, wrong or not allowed.
    Unauthorized = 5,
    /// The server could not be reached (after retries): work offline while the lease is
    /// valid, try again later.
    ServerUnavailable = 6,
    /// A lease token failed offline verification.
    InvalidToken = 7,
    /// The seat is no longer held (lost, evicted or released).
    SeatLost = 8,
    /// Any other failure (see the message).
    Other = 9,
    /// The library caught a panic (a bug): the handle should not be used again.
    Panic = 10,
}

impl From<&Error> for LcStatus {
    fn from(e: &Error) -> Self {
        match e {
            Error::NoSeats { .. } => LcStatus::NoSeats,
            Error::Evicted { .. } => LcStatus::Evicted,
            Error::LicenseInvalid { .. } => LcStatus::LicenseInvalid,
            Error::Unauthorized { .. } => LcStatus::Unauthorized,
            Error::ServerUnavailable { .. } => LcStatus::ServerUnavailable,
            Error::InvalidToken(_) => LcStatus::InvalidToken,
            Error::SessionLost { .. } => LcStatus::SeatLost,
            Error::BadUrl { .. } | Error::Config(_) => LcStatus::InvalidArgument,
            _ => LcStatus::Other,
        }
    }
}

/// A failure of one call: its status and message.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: LcStatus,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: LcStatus, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::new(LcStatus::from(&e), e.to_string())
    }
}

thread_local! {
    /// The message of this thread's last failed call; empty after a success.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message with a NUL in it loses the rest rather than the whole message.
    let text = message.split('\0').next().unwrap_or_default();
    let text = CString::new(text).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = text);
}

/// Runs one entry point: catches panics, records the message of a failure for
/// [`lc_last_error`] (and clears it on success), and answers the status.
pub(crate) fn guarded(call: impl FnOnce() -> Result<(), Failure>) -> LcStatus {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(())) => {
            set_last_error("");
            LcStatus::Ok
        }
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            failure.status
        }
        Err(_) => {
            set_last_error("internal error: the license client panicked (a bug; please report it)");
            LcStatus::Panic
        }
    }
}

/// A borrowed UTF-8 string argument; `name` for the message.
///
/// # Safety
/// `raw` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn text<'a>(raw: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if raw.is_null() {
        return Err(Failure::new(
            LcStatus::InvalidArgument,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: not NULL, and NUL-terminated and live for the call per the caller's contract.
    let text = unsafe { CStr::from_ptr(raw) };
    text.to_str()
        .map_err(|_| Failure::new(LcStatus::InvalidArgument, format!("{name} is not UTF-8")))
}

/// An optional borrowed UTF-8 string argument (NULL: none).
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(
    raw: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if raw.is_null() {
        Ok(None)
    } else {
        // SAFETY: the caller's contract, passed on.
        unsafe { text(raw, name) }.map(Some)
    }
}

/// A string the caller owns: free it with [`lc_string_free`].
pub(crate) fn owned_string(text: &str) -> *mut c_char {
    CString::new(text.replace('\0', ""))
        .unwrap_or_default()
        .into_raw()
}

/// The message of this thread's last failed `lc_` call, or "" after a success. Never NULL.
/// Owned by the library: valid until the next `lc_` call on this thread; copy it to keep it.
#[unsafe(no_mangle)]
pub extern "C" fn lc_last_error() -> *const c_char {
    LAST_ERROR.with(|last| last.borrow().as_ptr())
}

/// Frees a string the library handed over (e.g. by `lc_seat_token`). NULL is ignored.
///
/// # Safety
/// `text` is NULL or a string from this library not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_string_free(text: *mut c_char) {
    if text.is_null() {
        return;
    }
    let _ = catch_unwind(|| {
        // SAFETY: made by `CString::into_raw` in this library and not freed before, per the
        // caller's contract.
        drop(unsafe { CString::from_raw(text) });
    });
}

/// The library's version ("0.1.0"). Static: never freed.
#[unsafe(no_mangle)]
pub extern "C" fn lc_version() -> *const c_char {
    static VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(version) => version,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}
