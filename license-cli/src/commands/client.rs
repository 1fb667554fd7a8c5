//! Client commands: take, borrow, renew, release and return a seat, one call each (a take
//! with `--wait` polls the license's queue until its turn).

use std::time::Duration;

use license_client::QueuePlace;

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
        wait_seconds: None,
        queue_ticket: None,
    })
}

/// `license acquire`.
pub async fn acquire(
    connection: &Connection,
    args: AcquireArgs,
    format: OutputFormat,
) -> Result<u8> {
    let client = Client::new(connection)?;
    let request = acquire_request(&args.seat)?;
    let lease = match args.wait.filter(|seconds| *seconds > 0) {
        None => client.acquire(&request).await?,
        Some(seconds) => match wait_for_lease(client.seats()?, &request, seconds).await? {
            Some(lease) => lease,
            None => return Ok(EXIT_INTERRUPTED),
        },
    };
    emit(format, &lease, lease_fields)?;
    Ok(0)
}

/// Exit code after Ctrl-C (128 + SIGINT, as shells do).
const EXIT_INTERRUPTED: u8 = 130;

/// `acquire --wait`: the lease, or `None` when Ctrl-C ended the wait (the place given up).
async fn wait_for_lease(
    seats: &license_client::Client,
    request: &AcquireRequest,
    seconds: u32,
) -> Result<Option<Lease>> {
    let mut ticket = None;
    let waited = tokio::select! {
        lease = seats.wait_for_seat(request, Duration::from_secs(seconds.into()), |place| {
            report_place(place);
            ticket = Some(place.queue_ticket.clone());
        }) => Some(lease),
        _ = tokio::signal::ctrl_c() => None,
    };
    match waited {
        Some(lease) => Ok(Some(lease?)),
        None => {
            if let Some(ticket) = ticket {
                let _ = seats.leave_queue(&request.license_key, &ticket).await;
            }
            eprintln!("license: interrupted: left the queue");
            Ok(None)
        }
    }
}

/// Tells the user where it stands in the queue (stderr: stdout stays the lease).
pub fn report_place(place: &QueuePlace) {
    eprintln!("license: waiting for a seat: position {}", place.position);
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
