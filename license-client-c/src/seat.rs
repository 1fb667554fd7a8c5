//! A held seat: `lc_seat_status`, `lc_seat_set_callback`, `lc_seat_verify`,
//! `lc_seat_has_entitlement`, `lc_seat_token`, `lc_seat_release`, `lc_seat_free`.

use std::ffi::{c_char, c_void};
use std::sync::{Mutex, PoisonError};

use chrono::Utc;
use license_client::{Error, SeatState, Verifier, blocking};

use crate::error::{Failure, LcStatus, guarded, owned_string, text};

/// What a seat is now.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LcSeatState {
    /// Held: the last heartbeat succeeded.
    Held = 0,
    /// The server cannot be reached; still held on the offline lease, for a bounded time.
    Offline = 1,
    /// The session was lost on the server; a new seat is being acquired.
    Reacquiring = 2,
    /// Lost for good (the lease ran out unrenewed, the license was suspended, …): stop.
    Lost = 3,
    /// Evicted by an administrator: stop, and do not ask again before the hold-off ends.
    Evicted = 4,
    /// Released by the application.
    Released = 5,
}

impl From<&SeatState> for LcSeatState {
    fn from(state: &SeatState) -> Self {
        match state {
            SeatState::Held { .. } => LcSeatState::Held,
            SeatState::Offline { .. } => LcSeatState::Offline,
            SeatState::Reacquiring { .. } => LcSeatState::Reacquiring,
            SeatState::Lost(Error::Evicted { .. }) => LcSeatState::Evicted,
            SeatState::Lost(_) => LcSeatState::Lost,
            SeatState::Released => LcSeatState::Released,
        }
    }
}

/// Called with every new state of a seat, on a library thread (not the caller's). It must
/// return quickly and must not call `lc_seat_release`, `lc_seat_free` or `lc_acquire` (they
/// block on that thread); `lc_seat_status` is fine. `user_data` is passed back as given.
pub type LcStateCallback = Option<unsafe extern "C" fn(state: LcSeatState, user_data: *mut c_void)>;

/// A seat being held, or how it ended.
#[derive(Debug)]
enum Slot {
    Holding(blocking::SeatGuard),
    Ended(SeatState),
}

/// A seat. Opaque; made by `lc_acquire`, freed by `lc_seat_free`. Thread-safe.
#[derive(Debug)]
pub struct LcSeat {
    slot: Mutex<Slot>,
    verifier: Option<Verifier>,
}

impl LcSeat {
    pub(crate) fn new(guard: blocking::SeatGuard, verifier: Option<Verifier>) -> Self {
        Self {
            slot: Mutex::new(Slot::Holding(guard)),
            verifier,
        }
    }

    fn state(&self) -> SeatState {
        match &*self.slot.lock().unwrap_or_else(PoisonError::into_inner) {
            Slot::Holding(guard) => guard.state(),
            Slot::Ended(state) => state.clone(),
        }
    }

    /// The current token, if the seat is held.
    fn token(&self) -> Result<String, Failure> {
        match &*self.slot.lock().unwrap_or_else(PoisonError::into_inner) {
            Slot::Holding(guard) if guard.state().is_held() => Ok(guard.lease()?.token),
            _ => Err(Failure::new(
                LcStatus::SeatLost,
                "the seat is no longer held",
            )),
        }
    }

    fn verifier(&self) -> Result<&Verifier, Failure> {
        self.verifier.as_ref().ok_or_else(|| {
            Failure::new(
                LcStatus::InvalidArgument,
                "no key set: pass key_set_json to lc_client_open to verify leases offline",
            )
        })
    }
}

/// A pointer the callback thread may carry.
struct UserData(*mut c_void);
// SAFETY: the library never dereferences it; it only hands it back to the application's
// callback, whose contract (lc_seat_set_callback) makes it usable from the library's thread.
unsafe impl Send for UserData {}

/// # Safety
/// `seat` is NULL or a live seat from `lc_acquire`.
unsafe fn seat_ref<'a>(seat: *const LcSeat) -> Result<&'a LcSeat, Failure> {
    // SAFETY: NULL or live (caller's contract); shared access only.
    unsafe { seat.as_ref() }.ok_or_else(|| Failure::new(LcStatus::InvalidArgument, "seat is NULL"))
}

/// The seat's state now; never blocks on the network. A NULL seat answers
/// `LC_SEAT_STATE_LOST`.
///
/// # Safety
/// `seat` is NULL or a live seat from `lc_acquire`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_seat_status(seat: *const LcSeat) -> LcSeatState {
    let mut state = LcSeatState::Lost;
    guarded(|| {
        // SAFETY: the caller's contract, passed on.
        state = LcSeatState::from(&unsafe { seat_ref(seat) }?.state());
        Ok(())
    });
    state
}

/// Registers `callback` (NULL: none) to be called with every later state change, on a
/// library thread, until the seat is lost or released. At most one registration per seat
/// is meaningful; a second adds a second listener.
///
/// # Safety
/// `seat` is a live seat; `callback` and `user_data` stay valid, and usable from another
/// thread, until the seat is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_seat_set_callback(
    seat: *const LcSeat,
    callback: LcStateCallback,
    user_data: *mut c_void,
) -> LcStatus {
    guarded(|| {
        // SAFETY: the caller's contract, passed on.
        let seat = unsafe { seat_ref(seat) }?;
        let Some(callback) = callback else {
            return Ok(());
        };
        let user_data = UserData(user_data);
        match &*seat.slot.lock().unwrap_or_else(PoisonError::into_inner) {
            Slot::Holding(guard) => guard.on_change(move |state| {
                let user_data = &user_data;
                // SAFETY: a valid function pointer with this signature, and `user_data` as
                // the application gave it (lc_seat_set_callback's contract).
                unsafe { callback(LcSeatState::from(state), user_data.0) };
            })?,
            Slot::Ended(_) => {
                return Err(Failure::new(
                    LcStatus::SeatLost,
                    "the seat is no longer held",
                ));
            }
        }
        Ok(())
    })
}

/// Verifies the seat's current lease token offline (signature pinned to the key set of
/// `lc_client_open`, tenant, validity at the current time). `LC_STATUS_OK`: valid.
///
/// # Safety
/// `seat` is a live seat from `lc_acquire`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_seat_verify(seat: *const LcSeat) -> LcStatus {
    guarded(|| {
        // SAFETY: the caller's contract, passed on.
        let seat = unsafe { seat_ref(seat) }?;
        seat.verifier()?.verify(&seat.token()?, Utc::now())?;
        Ok(())
    })
}

/// Whether the seat's lease grants `entitlement` (verified offline, as `lc_seat_verify`):
/// `*granted` is set on `LC_STATUS_OK`. `entitlement` is borrowed for the call.
///
/// # Safety
/// `seat` is a live seat; `entitlement` a NUL-terminated string; `granted` valid to write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_seat_has_entitlement(
    seat: *const LcSeat,
    entitlement: *const c_char,
    granted: *mut bool,
) -> LcStatus {
    guarded(|| {
        if granted.is_null() {
            return Err(Failure::new(LcStatus::InvalidArgument, "granted is NULL"));
        }
        // SAFETY: the caller's contract, passed on.
        let (seat, entitlement) = unsafe { (seat_ref(seat)?, text(entitlement, "entitlement")?) };
        let has = seat
            .verifier()?
            .has_entitlement(&seat.token()?, entitlement, Utc::now())?;
        // SAFETY: not NULL and valid to write (caller's contract).
        unsafe { *granted = has };
        Ok(())
    })
}

/// The seat's current lease token (a compact JWS), for the application's own checks. On
/// `LC_STATUS_OK`, `*token` is a new string the caller owns: free it with `lc_string_free`.
///
/// # Safety
/// `seat` is a live seat; `token` valid to write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_seat_token(seat: *const LcSeat, token: *mut *mut c_char) -> LcStatus {
    guarded(|| {
        if token.is_null() {
            return Err(Failure::new(LcStatus::InvalidArgument, "token is NULL"));
        }
        // SAFETY: the caller's contract, passed on.
        let current = unsafe { seat_ref(seat) }?.token()?;
        // SAFETY: not NULL and valid to write (caller's contract).
        unsafe { *token = owned_string(&current) };
        Ok(())
    })
}

/// Stops heartbeating and releases the seat (blocks for the request). A seat already lost
/// or evicted has nothing to release: `LC_STATUS_OK`, and its status stays as it ended. The
/// handle stays valid (status `LC_SEAT_STATE_RELEASED`) until `lc_seat_free`.
///
/// # Safety
/// `seat` is a live seat from `lc_acquire`; not called from a seat callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_seat_release(seat: *const LcSeat) -> LcStatus {
    guarded(|| {
        // SAFETY: the caller's contract, passed on.
        let seat = unsafe { seat_ref(seat) }?;
        let mut slot = seat.slot.lock().unwrap_or_else(PoisonError::into_inner);
        let ended = match &*slot {
            Slot::Holding(guard) => match guard.state() {
                lost @ SeatState::Lost(_) => lost,
                _ => SeatState::Released,
            },
            Slot::Ended(_) => return Ok(()),
        };
        let Slot::Holding(guard) = std::mem::replace(&mut *slot, Slot::Ended(ended)) else {
            return Ok(());
        };
        // Status polls from other threads need not wait for the request.
        drop(slot);
        guard.release()?;
        Ok(())
    })
}

/// Releases the seat if it is still held (as `lc_seat_release`) and frees the handle. NULL
/// is ignored.
///
/// # Safety
/// `seat` is NULL or a seat from `lc_acquire` not freed before, no other thread uses it
/// during or after the call, and it is not called from a seat callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_seat_free(seat: *mut LcSeat) {
    guarded(|| {
        if !seat.is_null() {
            // SAFETY: from `Box::into_raw` in `lc_acquire`, freed once (caller's contract);
            // dropping the guard releases the seat.
            drop(unsafe { Box::from_raw(seat) });
        }
        Ok(())
    });
}
