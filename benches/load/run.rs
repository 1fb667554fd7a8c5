//! Running one scenario: open every connection and prepare it, then all of them loop together
//! through a warm-up (not recorded) and the measured window; requests in flight at the end
//! finish and count.

use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::http::{Connection, Target};
use crate::record::{Recorder, Summary};
use crate::scenario::{Lease, Scenario, Worker};

/// How long and how wide.
#[derive(Debug, Clone)]
pub struct Plan {
    pub scenario: Scenario,
    /// Keep-alive connections, each sending one request at a time.
    pub connections: usize,
    /// Sessions the heartbeat scenario holds and renews.
    pub sessions: usize,
    /// Sent but not recorded, before the measured window.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
}

/// Runs `plan` against `target`.
pub async fn run(target: &Target, plan: &Plan, lease: Option<Lease>) -> Result<Summary> {
    // Open and prepare every connection before the clock starts.
    let mut preparing = JoinSet::new();
    for index in 0..plan.connections {
        let (target, plan, lease) = (target.clone(), plan.clone(), lease.clone());
        preparing.spawn(async move {
            let mut conn = Connection::open(&target).await?;
            let worker = Worker::prepare(
                plan.scenario,
                &mut conn,
                index,
                plan.connections,
                plan.sessions,
                lease,
            )
            .await?;
            Ok::<_, anyhow::Error>((conn, worker))
        });
    }
    let mut ready = Vec::with_capacity(plan.connections);
    while let Some(joined) = preparing.join_next().await {
        ready.push(joined.context("a connection's set-up panicked")??);
    }

    let from = Instant::now() + plan.warmup;
    let until = from + plan.duration;
    let mut running = JoinSet::new();
    for (mut conn, mut worker) in ready {
        running.spawn(async move {
            let mut rec = Recorder::default();
            while Instant::now() < until {
                worker.step(&mut conn, &mut rec, from).await;
            }
            (rec, conn.reconnects, Instant::now())
        });
    }
    let mut recorders = Vec::with_capacity(plan.connections);
    let (mut reconnects, mut last) = (0, until);
    while let Some(joined) = running.join_next().await {
        let (rec, n, finished) = joined.context("a connection's loop panicked")?;
        recorders.push(rec);
        reconnects += n;
        last = last.max(finished);
    }
    Ok(Summary::merge(recorders, last - from, reconnects))
}

/// Waits until `GET /api/v1/ready/` answers 200, trying every 100 ms for at most `limit`.
pub async fn wait_ready(target: &Target, limit: Duration) -> Result<()> {
    let give_up = Instant::now() + limit;
    let mut last = String::from("no attempt");
    while Instant::now() < give_up {
        match Connection::open(target).await {
            Ok(mut conn) => {
                let call = crate::http::Call {
                    method: &hyper::Method::GET,
                    path: "/api/v1/ready/",
                    json: None,
                    authorised: false,
                };
                match conn.send(call).await {
                    Ok(response) if response.status.is_success() => return Ok(()),
                    Ok(response) => last = format!("status {}", response.status),
                    Err(e) => last = format!("{e:?}"),
                }
            }
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("not ready after {} s: {last}", limit.as_secs())
}
