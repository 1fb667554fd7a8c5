//! Embedding license-core: an application that enforces its own floating licenses in process,
//! with no server. Run: `cargo run -p license-examples --example embed`.

use std::sync::Arc;

use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    // README:embed:start
    let clock = Arc::new(SystemClock);
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(clock.clone()));
    let root = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA)?);
    let service = LicenseService::new(store.clone(), ledger, root, clock.clone(), "my-app");
    let admin = AdminService::new(store, clock);
    let vendor = admin.create_tenant("My Company", &Actor::Operator).await?;
    let seats = NewLicense::new("My App Pro", SeatCount::new(2)?);
    let license = admin
        .create_license(vendor.id, seats, &Actor::Operator)
        .await?;
    let app = Caller::new(Actor::System); // this process holds the seat (a server names the caller)
    let hw = HardwareId::parse("pc-1")?;
    let lease = service
        .acquire(vendor.id, &app.actor, &license.key, &hw, None)
        .await?;
    // README:embed:end
    let claims = service
        .verifier(vendor.id)
        .await?
        .verify(&lease.token, chrono::Utc::now())?;
    println!(
        "seat granted to {} until {} (session {})",
        claims.hwid, lease.session.expires_at, claims.sub
    );
    service.release(vendor.id, lease.session.id, &app).await?;
    println!("seat released");
    Ok(())
}
