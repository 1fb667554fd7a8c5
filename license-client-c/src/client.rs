//! `lc_client_open`, `lc_client_free` and `lc_acquire`.

use std::ffi::c_char;

use chrono::Utc;
use license_client::{AcquireRequest, DEFAULT_ISSUER, GuardOptions, Verifier, blocking};

use crate::error::{Failure, LcStatus, guarded, optional_text, text};
use crate::seat::LcSeat;

/// A client of one license server, for one license key on one machine. Opaque; made by
/// `lc_client_open`, freed by `lc_client_free`. Thread-safe.
#[derive(Debug)]
pub struct LcClient {
    client: blocking::Client,
    request: AcquireRequest,
    verifier: Option<Verifier>,
}

/// Opens a client. Every string is borrowed for the call only (UTF-8, NUL-terminated).
///
/// - `base_url`: the server, e.g. `https://licenses.example.com`.
/// - `credential`: a client-scope API key (`lk_…`) or an OIDC ID token.
/// - `license_key`, `hardware_id`: the seat to ask for.
/// - `key_set_json` (may be NULL): the tenant's published key set (the JSON of
///   `/api/v1/tenants/{id}/jwks.json`), shipped with the application; needed for
///   `lc_seat_verify`, `lc_seat_has_entitlement` and to verify every lease received.
/// - `root_key_set_json` (may be NULL; needs `key_set_json`): the root key set
///   (`/.well-known/jwks.json`): only tenant keys it certified are trusted.
///
/// On `LC_STATUS_OK`, `*out` is a new client the caller owns: free it with `lc_client_free`.
/// On an error, `*out` is left unchanged.
///
/// # Safety
/// Each string is NULL (where allowed) or a valid NUL-terminated string; `out` is a valid
/// pointer to write to.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_client_open(
    base_url: *const c_char,
    credential: *const c_char,
    license_key: *const c_char,
    hardware_id: *const c_char,
    key_set_json: *const c_char,
    root_key_set_json: *const c_char,
    out: *mut *mut LcClient,
) -> LcStatus {
    guarded(|| {
        if out.is_null() {
            return Err(Failure::new(LcStatus::InvalidArgument, "out is NULL"));
        }
        // SAFETY: each pointer is NULL or a live NUL-terminated string (caller's contract).
        let (base_url, credential, license_key, hardware_id, key_set, root) = unsafe {
            (
                text(base_url, "base_url")?,
                text(credential, "credential")?,
                text(license_key, "license_key")?,
                text(hardware_id, "hardware_id")?,
                optional_text(key_set_json, "key_set_json")?,
                optional_text(root_key_set_json, "root_key_set_json")?,
            )
        };
        let verifier = match (key_set, root) {
            (Some(key_set), root) => Some(Verifier::from_json(
                key_set,
                root,
                DEFAULT_ISSUER,
                Utc::now(),
            )?),
            (None, Some(_)) => {
                return Err(Failure::new(
                    LcStatus::InvalidArgument,
                    "root_key_set_json needs key_set_json (the tenant's key set)",
                ));
            }
            (None, None) => None,
        };
        let client = LcClient {
            client: blocking::Client::new(base_url, credential)?,
            request: AcquireRequest::new(license_key, hardware_id),
            verifier,
        };
        // SAFETY: `out` is not NULL and valid to write to (caller's contract).
        unsafe { *out = Box::into_raw(Box::new(client)) };
        Ok(())
    })
}

/// Frees a client. NULL is ignored. Seats acquired with it stay valid (each holds what it
/// needs) until `lc_seat_free`.
///
/// # Safety
/// `client` is NULL or a client from `lc_client_open` not freed before, and no other thread
/// uses it during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_client_free(client: *mut LcClient) {
    guarded(|| {
        if !client.is_null() {
            // SAFETY: from `Box::into_raw` in `lc_client_open`, freed once (caller's contract).
            drop(unsafe { Box::from_raw(client) });
        }
        Ok(())
    });
}

/// Acquires a seat and holds it: a background thread of the library heartbeats at the
/// server's interval, rides out outages while the lease token is valid, acquires again after
/// a lost session, and stops for good when evicted. With a key set, the lease is verified
/// offline first (`LC_STATUS_INVALID_TOKEN` if it fails; the seat is released).
///
/// On `LC_STATUS_OK`, `*out` is a new seat the caller owns: release and free it with
/// `lc_seat_free`. Blocks for the request (and its retries, a few seconds at most).
///
/// # Safety
/// `client` is a live client from `lc_client_open`; `out` is a valid pointer to write to.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lc_acquire(client: *const LcClient, out: *mut *mut LcSeat) -> LcStatus {
    guarded(|| {
        if out.is_null() {
            return Err(Failure::new(LcStatus::InvalidArgument, "out is NULL"));
        }
        // SAFETY: NULL or a live client (caller's contract); only shared access is taken.
        let Some(client) = (unsafe { client.as_ref() }) else {
            return Err(Failure::new(LcStatus::InvalidArgument, "client is NULL"));
        };
        let options = GuardOptions {
            verifier: client.verifier.clone(),
            ..GuardOptions::default()
        };
        let guard = client.client.hold(client.request.clone(), options)?;
        let seat = LcSeat::new(guard, client.verifier.clone());
        // SAFETY: `out` is not NULL and valid to write to (caller's contract).
        unsafe { *out = Box::into_raw(Box::new(seat)) };
        Ok(())
    })
}
