//! The umbrella `Store` port: readiness.

use async_trait::async_trait;
use license_core::{Result, Store};

use crate::connect::SqlStore;
use crate::errors::db_err;

#[async_trait]
impl Store for SqlStore {
    /// A round trip to the database (a pooled connection is checked, or a new one opened).
    async fn ping(&self) -> Result<()> {
        self.db.ping().await.map_err(db_err)
    }
}
