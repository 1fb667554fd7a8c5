//! The in-memory adapters held to the same port contracts as Redis, PostgreSQL and SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use futures::FutureExt as _;
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::testing::{LedgerHarness, seat_ledger_contract, store_contract};
use license_core::{SeatLedger, SystemClock};

#[tokio::test]
async fn memory_ledger_keeps_the_seat_ledger_contract() {
    let ledger = Arc::new(MemoryLedger::new(Arc::new(SystemClock)));
    let wipe = ledger.clone();
    let harness = LedgerHarness {
        ledger: ledger as Arc<dyn SeatLedger>,
        lose_state: Box::new(move || {
            wipe.lose_state();
            async {}.boxed()
        }),
    };
    seat_ledger_contract(&harness).await;
}

#[tokio::test]
async fn memory_store_keeps_the_store_contract() {
    store_contract(Arc::new(MemoryStore::default())).await;
}
