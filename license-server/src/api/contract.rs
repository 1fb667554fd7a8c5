//! The error contract, proved against the served OpenAPI document: every error each use case
//! can return (its module's `ERRORS` list in `license-core`) maps to a status that every
//! operation calling that use case declares, so no core error can fall to an undeclared 500.
//! Adding an operation without listing its use cases here fails
//! `every_operation_maps_its_use_cases_errors_to_declared_statuses`; adding a core error kind
//! fails to compile `example` until it has a status.

use license_core::{
    Dependency, Error, ErrorKind, InactiveReason, Quota, Resource, TokenError, acquire, admin,
    borrow, event_checkpoint, evict, heartbeat, keys, readiness, rebuild, release, usage_report,
    usage_statement, validate, wait, webhooks,
};

use super::error::{ApiError, BASE_STATUSES, is_base_status};

/// Input the handlers parse into domain values before calling a use case (`invalid_input`).
const PARSING: &[ErrorKind] = &[ErrorKind::InvalidInput];

/// The use cases each operation calls, as their error lists. Every operation of the document
/// must be here.
const OPERATIONS: &[(&str, &[&[ErrorKind]])] = &[
    ("acquire", &[PARSING, acquire::ERRORS, wait::ERRORS]),
    ("leave_queue", &[PARSING, wait::LEAVE_ERRORS]),
    (
        "list_license_queue",
        &[PARSING, wait::QUEUE_ERRORS, admin::ERRORS],
    ),
    ("heartbeat", &[PARSING, heartbeat::ERRORS]),
    ("release", &[PARSING, release::ERRORS]),
    ("borrow", &[PARSING, borrow::ERRORS]),
    ("return_borrowed", &[PARSING, borrow::RETURN_ERRORS]),
    ("validate", &[validate::ERRORS]),
    ("health", &[]),
    ("ready", &[readiness::ERRORS]),
    ("jwks", &[keys::ERRORS]),
    ("tenant_jwks", &[PARSING, keys::TENANT_ERRORS]),
    ("rotate_signing_key", &[keys::ROTATE_ERRORS, admin::ERRORS]),
    ("create_tenant", &[PARSING, admin::ERRORS]),
    ("list_tenants", &[admin::ERRORS]),
    ("create_license", &[PARSING, admin::ERRORS]),
    ("list_licenses", &[PARSING, admin::ERRORS]),
    ("get_license", &[admin::ERRORS]),
    ("update_license", &[PARSING, admin::ERRORS]),
    ("get_license_policy", &[admin::ERRORS]),
    ("set_license_policy", &[PARSING, admin::ERRORS]),
    ("suspend_license", &[admin::ERRORS]),
    ("reinstate_license", &[admin::ERRORS]),
    ("revoke_license", &[admin::ERRORS]),
    ("list_license_sessions", &[PARSING, admin::ERRORS]),
    ("list_borrowed_sessions", &[PARSING, admin::ERRORS]),
    ("force_release_session", &[PARSING, evict::ERRORS]),
    ("create_api_key", &[PARSING, admin::ERRORS]),
    ("list_api_keys", &[admin::ERRORS]),
    ("revoke_api_key", &[admin::ERRORS]),
    (
        "get_license_usage",
        &[PARSING, rebuild::ERRORS, admin::ERRORS],
    ),
    ("get_license_report", &[PARSING, usage_report::ERRORS]),
    ("get_usage_statement", &[PARSING, usage_statement::ERRORS]),
    ("list_audit_events", &[PARSING, admin::ERRORS]),
    ("list_events", &[PARSING, admin::ERRORS]),
    ("stream_events", &[PARSING, admin::ERRORS]),
    ("get_event_checkpoint", &[PARSING, event_checkpoint::ERRORS]),
    ("get_quotas", &[admin::ERRORS]),
    ("create_webhook", &[PARSING, webhooks::ERRORS]),
    ("list_webhooks", &[webhooks::ERRORS]),
    ("get_webhook", &[webhooks::ERRORS]),
    ("update_webhook", &[PARSING, webhooks::ERRORS]),
    ("delete_webhook", &[webhooks::ERRORS]),
    ("list_webhook_deliveries", &[PARSING, webhooks::ERRORS]),
    ("redeliver_webhook", &[PARSING, webhooks::ERRORS]),
    ("rotate_webhook_secret", &[PARSING, webhooks::ERRORS]),
];

/// One error of each kind (the match is exhaustive: a new kind needs a line here).
fn example(kind: ErrorKind) -> Error {
    match kind {
        ErrorKind::NotFound => Error::NotFound(Resource::License),
        ErrorKind::NoSeatsAvailable => Error::NoSeatsAvailable {
            limit: 1,
            reached: license_core::SeatLimit::Seats,
        },
        ErrorKind::Excluded => Error::Excluded("not in an included group".into()),
        ErrorKind::LicenseInactive => Error::LicenseInactive(InactiveReason::Suspended),
        ErrorKind::SessionExpired => Error::SessionExpired,
        ErrorKind::TicketGone => Error::TicketGone,
        ErrorKind::SessionEvicted => Error::SessionEvicted {
            reason: "audit".into(),
            until: None,
        },
        ErrorKind::HeldOff => Error::HeldOff {
            reason: "audit".into(),
            until: chrono::Utc::now(),
        },
        ErrorKind::BorrowLimitReached => Error::BorrowLimitReached { limit: 1 },
        ErrorKind::Conflict => Error::Conflict("dup".into()),
        ErrorKind::QuotaExceeded => Error::QuotaExceeded {
            quota: Quota::Licenses,
            limit: 1,
        },
        ErrorKind::InvalidInput => Error::invalid("field", "bad"),
        ErrorKind::InvalidToken => Error::InvalidToken(TokenError::Expired),
        ErrorKind::Unavailable => Error::unavailable(Dependency::Store, "down"),
        ErrorKind::Internal => Error::Internal("bug".into()),
    }
}

/// The status the one error mapping (`ApiError::from`) gives this kind.
fn status_of(kind: ErrorKind) -> u16 {
    ApiError::from(example(kind)).status.as_u16()
}

#[test]
fn every_operation_maps_its_use_cases_errors_to_declared_statuses() {
    let declared = declared_error_statuses();
    for (id, statuses) in &declared {
        let Some((_, lists)) = OPERATIONS.iter().find(|(op, _)| op == id) else {
            panic!("operation {id} is not in OPERATIONS: list the use cases it calls");
        };
        for kind in lists.iter().flat_map(|list| list.iter()) {
            let status = status_of(*kind);
            assert!(
                statuses.contains(&status),
                "{id}: {kind:?} maps to {status}, which the operation does not declare ({statuses:?})"
            );
        }
    }
    for (op, _) in OPERATIONS {
        assert!(
            declared.iter().any(|(id, _)| id == op),
            "{op} is listed but not served"
        );
    }
}

#[test]
fn the_contract_test_bites_on_an_undeclared_status() {
    // Release declares no 402: a release that could run out of seats would be caught.
    let declared = declared_error_statuses();
    let (_, release) = declared.iter().find(|(id, _)| id == "release").unwrap();
    assert!(!release.contains(&status_of(ErrorKind::NoSeatsAvailable)));
    assert!(!release.contains(&status_of(ErrorKind::SessionExpired)));
}

/// The statuses each operation of the served document declares for errors.
fn declared_error_statuses() -> Vec<(String, Vec<u16>)> {
    let spec: serde_json::Value = serde_json::from_str(&crate::api::spec()).unwrap_or_default();
    let mut operations = Vec::new();
    for item in spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            let statuses = op["responses"]
                .as_object()
                .into_iter()
                .flat_map(|r| r.keys())
                .filter_map(|s| s.parse::<u16>().ok())
                .filter(|s| *s >= 400)
                .collect();
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            operations.push((id, statuses));
        }
    }
    operations
}

#[test]
fn every_operation_with_errors_declares_the_base_statuses() {
    let operations = declared_error_statuses();
    assert!(operations.len() > 20, "{operations:?}");
    for (id, statuses) in &operations {
        if statuses.is_empty() {
            // Operations that cannot fail (liveness, JWKS) have no error response.
            assert!(["health", "jwks"].contains(&id.as_str()), "{id}");
            continue;
        }
        for base in BASE_STATUSES {
            assert!(statuses.contains(&base), "{id} lacks {base}: {statuses:?}");
        }
    }
    let extras = |id: &str| -> Vec<u16> {
        let (_, statuses) = operations.iter().find(|(o, _)| o == id).unwrap();
        statuses
            .iter()
            .copied()
            .filter(|s| !is_base_status(*s))
            .collect()
    };
    assert_eq!(extras("acquire"), [402, 410]);
    assert_eq!(extras("leave_queue"), [] as [u16; 0]);
    assert_eq!(extras("borrow"), [402]);
    assert_eq!(extras("heartbeat"), [410]);
    assert_eq!(extras("validate"), [410]);
    assert_eq!(extras("release"), [] as [u16; 0]);
    assert_eq!(extras("return_borrowed"), [] as [u16; 0]);
    assert_eq!(extras("create_license"), [] as [u16; 0]);
    assert_eq!(extras("list_borrowed_sessions"), [] as [u16; 0]);
    assert_eq!(extras("force_release_session"), [] as [u16; 0]);
}

#[test]
fn the_eviction_statuses_declare_retry_after() {
    let spec: serde_json::Value = serde_json::from_str(&crate::api::spec()).unwrap_or_default();
    let responses = |path: &str| spec["paths"][path]["post"]["responses"].clone();
    for (path, status) in [
        ("/api/v1/licenses/acquire", "403"),
        ("/api/v1/licenses/borrow", "403"),
        ("/api/v1/licenses/heartbeat", "410"),
        ("/api/v1/licenses/acquire", "429"),
    ] {
        assert!(
            responses(path)[status]["headers"]["Retry-After"].is_object(),
            "{path} {status}: {}",
            responses(path)[status]
        );
    }
    // Only where it can come: no 402 promises one.
    assert!(responses("/api/v1/licenses/acquire")["402"]["headers"]["Retry-After"].is_null());
}

#[test]
fn every_status_a_domain_error_maps_to_is_base_or_declared_as_an_extra() {
    let errors = [
        Error::invalid("hardware_id", "bad"),
        Error::InvalidToken(license_core::TokenError::Expired),
        Error::NoSeatsAvailable {
            limit: 2,
            reached: license_core::SeatLimit::Seats,
        },
        Error::LicenseInactive(InactiveReason::Suspended),
        Error::NotFound(Resource::License),
        Error::Conflict("dup".into()),
        Error::QuotaExceeded {
            quota: Quota::Seats,
            limit: 1,
        },
        Error::SessionExpired,
        Error::SessionEvicted {
            reason: "audit".into(),
            until: None,
        },
        Error::HeldOff {
            reason: "audit".into(),
            until: chrono::Utc::now(),
        },
        Error::BorrowLimitReached { limit: 1 },
        Error::unavailable(Dependency::Store, "down"),
        Error::Internal("bug".into()),
    ];
    let operations = declared_error_statuses();
    for error in errors {
        let status = ApiError::from(error).status.as_u16();
        // A status outside the base must be some operation's extra, or it can only ever
        // come out as a logged 500.
        assert!(
            is_base_status(status) || operations.iter().any(|(_, s)| s.contains(&status)),
            "{status} is neither a base status nor any operation's extra"
        );
    }
    assert!(!is_base_status(402) && !is_base_status(410) && is_base_status(409));
}
