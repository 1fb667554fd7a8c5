//! Client commands: take, borrow, renew, release and return a seat, one call each.

use crate::api::{AcquireRequest, BorrowRequest, Lease};
use crate::cli::{AcquireArgs, BorrowArgs, ClientSessionArgs, OutputFormat, SeatArgs};
use crate::client::Client;
use crate::config::Connection;
use crate::error::Result;
use crate::hardware;
use crate::output::{Fields, emit, time};

/// The acquire body for `seat`, with the machine fingerprint when no hardware id is given.
pub fn acquire_request(seat: &SeatArgs) -> Result<AcquireRequest> {
    let hardware_id = match &seat.hardware_id {
        Some(id) => id.clone(),
        None => hardware::fingerprint()?,
    };
    Ok(AcquireRequest {
        license_key: seat.license_key.clone(),
        hardware_id,
        user_email: seat.user_email.clone(),
        host_name: seat.host_name.clone().or_else(hardware::host_name),
        process_id: Some(
            seat.process_id
                .clone()
                .unwrap_or_else(|| std::process::id().to_string()),
        ),
    })
}

/// `license acquire`.
pub async fn acquire(
    connection: &Connection,
    args: AcquireArgs,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    let lease = client.acquire(&acquire_request(&args.seat)?).await?;
    emit(format, &lease, lease_fields)?;
    Ok(0)
}

/// `license borrow --for DURATION`.
pub async fn borrow(connection: &Connection, args: BorrowArgs, format: OutputFormat) -> Result<u8> {
    let client = Client::new(connection)?;
    let request = BorrowRequest {
        seat: acquire_request(&args.seat)?,
        borrow_seconds: args.period,
    };
    let lease = client.borrow(&request).await?;
    emit(format, &lease, lease_fields)?;
    Ok(0)
}

fn lease_fields(l: &Lease) -> String {
    let mut fields = Fields::new();
    fields.add("session", &l.session_id);
    if l.borrowed {
        // No heartbeat is due: the token is valid offline until then.
        fields.add("borrowed until", time(&l.expires_at));
    } else {
        fields.add("expires", time(&l.expires_at)).add(
            "heartbeat every",
            format!("{} s", l.heartbeat_interval_seconds),
        );
    }
    if l.overdraft {
        fields.add("overdraft", "yes (beyond the license's seats)");
    }
    fields.add("token", &l.token);
    if let Some(secret) = &l.session_secret {
        // Shown once: heartbeat and release need it (--session-secret or
        // LICENSE_SESSION_SECRET).
        fields.add("session secret", secret);
    }
    fields.render()
}

/// `license heartbeat SESSION_ID [--session-secret S]`.
pub async fn heartbeat(
    connection: &Connection,
    args: ClientSessionArgs,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    let renewed = client.heartbeat(&args.id, args.secret()).await?;
    emit(format, &renewed, |r| {
        let mut fields = Fields::new();
        fields
            .add("expires", time(&r.expires_at))
            .add("token", &r.token);
        fields.render()
    })?;
    Ok(0)
}

/// `license release SESSION_ID [--session-secret S]`.
pub async fn release(
    connection: &Connection,
    args: ClientSessionArgs,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    let released = client.release(&args.id, args.secret()).await?;
    emit(format, &released, |r| {
        format!("session {} released at {}", args.id, time(&r.released_at))
    })?;
    Ok(0)
}

/// `license return SESSION_ID [--session-secret S]`.
pub async fn return_borrowed(
    connection: &Connection,
    args: ClientSessionArgs,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    let returned = client.return_borrowed(&args.id, args.secret()).await?;
    emit(format, &returned, |r| {
        format!("session {} returned at {}", args.id, time(&r.returned_at))
    })?;
    Ok(0)
}
