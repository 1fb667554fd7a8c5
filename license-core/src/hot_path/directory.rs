//! The sessions this replica has seen: a heartbeat names only its session, and finding the
//! session's license and machine must not cost a database read each time.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use crate::error::{Error, Resource, Result};
use crate::holder::Caller;
use crate::ids::{SessionId, TenantId};
use crate::session::Session;
use crate::store::SessionStore;

/// A session not heartbeated through this replica for this long is forgotten.
const IDLE: Duration = Duration::from_secs(15 * 60);

/// Sessions by id as they were granted (license, machine, user, start, and who may touch them:
/// holder and secret hash, so heartbeats check them without the store). Whether a session is
/// still live is never read from here: the ledger says that.
pub struct SessionDirectory {
    sessions: Cache<(TenantId, SessionId), Arc<Session>>,
}

impl std::fmt::Debug for SessionDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionDirectory")
            .field("sessions", &self.sessions.entry_count())
            .finish()
    }
}

impl SessionDirectory {
    /// A directory of at most `capacity` sessions.
    pub fn new(capacity: u64) -> Self {
        Self {
            sessions: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(IDLE)
                .build(),
        }
    }

    /// Remembers a session this replica granted or read.
    pub(crate) fn remember(&self, session: &Session) {
        self.sessions
            .insert((session.tenant_id, session.id), Arc::new(session.clone()));
    }

    /// The session `caller` may touch: from memory when it admits the caller, else as the
    /// store has it now (a retried acquire through another replica may have replaced its
    /// secret), so a refusal costs a read and a success none. `NotFound` when it is missing or
    /// does not admit the caller: the two answer alike.
    pub(crate) async fn find_for(
        &self,
        store: &dyn SessionStore,
        tenant: TenantId,
        id: SessionId,
        caller: &Caller,
    ) -> Result<Arc<Session>> {
        if let Some(session) = self.sessions.get(&(tenant, id))
            && caller.may_touch(&session)
        {
            return Ok(session);
        }
        let session = self.load(store, tenant, id).await?;
        if !caller.may_touch(&session) {
            return Err(Error::NotFound(Resource::Session));
        }
        Ok(session)
    }

    /// The session as the store has it; remembered while it has not ended (an ended one is
    /// forgotten).
    async fn load(
        &self,
        store: &dyn SessionStore,
        tenant: TenantId,
        id: SessionId,
    ) -> Result<Arc<Session>> {
        let session = Arc::new(store.get_session(tenant, id).await?);
        if session.ended_at.is_none() {
            self.sessions.insert((tenant, id), session.clone());
        } else {
            self.sessions.invalidate(&(tenant, id));
        }
        Ok(session)
    }

    /// Forgets a session (it ended).
    pub(crate) fn forget(&self, tenant: TenantId, id: SessionId) {
        self.sessions.invalidate(&(tenant, id));
    }
}
