//! The C surface's contract without a server: bad arguments are statuses with a message in
//! `lc_last_error` (never a crash), a success clears the message, and a server down at the
//! start is `LC_STATUS_SERVER_UNAVAILABLE`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::undocumented_unsafe_blocks
)]

use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};

use license_client_c::*;

fn last_error() -> String {
    // The library's string, copied before the next call.
    unsafe { CStr::from_ptr(lc_last_error()) }
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn bad_arguments_are_statuses_with_a_message() {
    let url = CString::new("http://127.0.0.1:1").unwrap();
    let text = CString::new("x").unwrap();
    let mut client = null_mut();
    let status = unsafe {
        lc_client_open(
            url.as_ptr(),
            null(),
            text.as_ptr(),
            text.as_ptr(),
            null(),
            null(),
            &mut client,
        )
    };
    assert_eq!(status, LcStatus::InvalidArgument);
    assert_eq!(last_error(), "credential is NULL");
    assert!(client.is_null(), "nothing handed over on an error");

    let bad_url = CString::new("ftp://host").unwrap();
    let status = unsafe {
        lc_client_open(
            bad_url.as_ptr(),
            text.as_ptr(),
            text.as_ptr(),
            text.as_ptr(),
            null(),
            null(),
            &mut client,
        )
    };
    assert_eq!(status, LcStatus::InvalidArgument);
    assert!(
        last_error().contains("invalid server URL"),
        "{}",
        last_error()
    );

    let not_json = CString::new("{").unwrap();
    let status = unsafe {
        lc_client_open(
            url.as_ptr(),
            text.as_ptr(),
            text.as_ptr(),
            text.as_ptr(),
            not_json.as_ptr(),
            null(),
            &mut client,
        )
    };
    assert_eq!(status, LcStatus::InvalidArgument);

    assert_eq!(unsafe { lc_seat_status(null()) }, LcSeatState::Lost);
    assert_eq!(unsafe { lc_seat_verify(null()) }, LcStatus::InvalidArgument);
    unsafe {
        lc_seat_free(null_mut());
        lc_client_free(null_mut());
        lc_string_free(null_mut());
    }
    assert!(
        !unsafe { CStr::from_ptr(lc_version()) }
            .to_bytes()
            .is_empty()
    );
}

#[test]
fn a_server_down_at_start_is_server_unavailable_and_a_success_clears_the_message() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = CString::new(format!("http://127.0.0.1:{port}")).unwrap();
    let text = CString::new("x").unwrap();
    let mut client = null_mut();
    let status = unsafe {
        lc_client_open(
            url.as_ptr(),
            text.as_ptr(),
            text.as_ptr(),
            text.as_ptr(),
            null(),
            null(),
            &mut client,
        )
    };
    assert_eq!(status, LcStatus::Ok);
    assert_eq!(last_error(), "");
    let mut seat = null_mut();
    let status = unsafe { lc_acquire(client, &mut seat) };
    assert_eq!(status, LcStatus::ServerUnavailable);
    assert!(
        last_error().contains("unavailable after 4 attempt(s)"),
        "{}",
        last_error()
    );
    assert!(seat.is_null());
    unsafe { lc_client_free(client) };
}
