//! The C surface against a live server, from Rust: the state callback gets the eviction with
//! the application's `user_data`, the status poll agrees, entitlements are checked offline,
//! and the token handed over is the caller's to free.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::undocumented_unsafe_blocks
)]

#[path = "../../license-client/tests/support/mod.rs"]
mod support;

use std::ffi::{CStr, CString, c_void};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use license_client::{AcquireRequest, blocking};
use license_client_c::*;
use support::{Server, Tenant, eventually};

/// The callback: stores the last state it was given into the `AtomicI32` behind `user_data`.
unsafe extern "C" fn remember(state: LcSeatState, user_data: *mut c_void) {
    let last = unsafe { &*(user_data as *const AtomicI32) };
    last.store(state as i32, Ordering::SeqCst);
}

#[test]
fn the_callback_and_the_poll_see_an_eviction() {
    let server = Server::start();
    let tenant = Tenant::create(&server, "Acme", 1);
    // The tenant's signing key is made with its first lease.
    let client = blocking::Client::new(&tenant.url, &tenant.client_key).unwrap();
    let first = client
        .acquire(&AcquireRequest::new(&tenant.license_key, "bootstrap"))
        .unwrap();
    client.release(&first.session_id, None).unwrap();
    let c = |s: &str| CString::new(s).unwrap();
    let (url, credential, key) = (
        c(&tenant.url),
        c(&tenant.client_key),
        c(&tenant.license_key),
    );
    let (machine, key_set, root) = (c("pc-1"), c(&tenant.key_set()), c(&tenant.root_key_set()));

    let mut lc = null_mut();
    let opened = unsafe {
        lc_client_open(
            url.as_ptr(),
            credential.as_ptr(),
            key.as_ptr(),
            machine.as_ptr(),
            key_set.as_ptr(),
            root.as_ptr(),
            &mut lc,
        )
    };
    assert_eq!(opened, LcStatus::Ok);
    let mut seat = null_mut();
    assert_eq!(unsafe { lc_acquire(lc, &mut seat) }, LcStatus::Ok);
    assert_eq!(unsafe { lc_seat_status(seat) }, LcSeatState::Held);
    assert_eq!(unsafe { lc_seat_verify(seat) }, LcStatus::Ok);
    let (mut export, mut render) = (false, true);
    let (export_name, render_name) = (c("export"), c("render"));
    assert_eq!(
        unsafe { lc_seat_has_entitlement(seat, export_name.as_ptr(), &mut export) },
        LcStatus::Ok
    );
    assert_eq!(
        unsafe { lc_seat_has_entitlement(seat, render_name.as_ptr(), &mut render) },
        LcStatus::Ok
    );
    assert!(export && !render);
    let mut token = null_mut();
    assert_eq!(unsafe { lc_seat_token(seat, &mut token) }, LcStatus::Ok);
    let text = unsafe { CStr::from_ptr(token) }
        .to_str()
        .unwrap()
        .to_owned();
    unsafe { lc_string_free(token) };
    assert_eq!(text.split('.').count(), 3, "a compact JWS");

    let last = Box::new(AtomicI32::new(-1));
    let user_data = &*last as *const AtomicI32 as *mut c_void;
    assert_eq!(
        unsafe { lc_seat_set_callback(seat, Some(remember), user_data) },
        LcStatus::Ok
    );
    let session = tenant.live_sessions()[0]["id"].as_str().unwrap().to_owned();
    tenant.evict(&session, "licence audit");
    assert!(
        eventually(Duration::from_secs(5), || last.load(Ordering::SeqCst)
            == LcSeatState::Evicted as i32),
        "the callback got the eviction; last state {}",
        last.load(Ordering::SeqCst)
    );
    assert_eq!(unsafe { lc_seat_status(seat) }, LcSeatState::Evicted);
    // An evicted seat has no lease to verify, and nothing to release.
    assert_eq!(unsafe { lc_seat_verify(seat) }, LcStatus::SeatLost);
    assert_eq!(unsafe { lc_seat_release(seat) }, LcStatus::Ok);
    assert_eq!(
        unsafe { lc_seat_status(seat) },
        LcSeatState::Evicted,
        "as it ended"
    );
    unsafe {
        lc_seat_free(seat);
        lc_client_free(lc);
    }
    assert!(tenant.live_sessions().is_empty());
}
