//! The in-memory store's sessions and usage (`SessionStore`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::store::{MemoryStore, usage_day};
use crate::audit::AuditEvent;
use crate::error::{Dependency, Error, Resource, Result};
use crate::holder::SessionSecretHash;
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::session::{EndReason, Session, SessionEnd};
use crate::store::{Ended, Page, SessionCursor, SessionStore, WriteBehindBatch};
use crate::usage::UsageDay;

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(&self, session: &Session, in_use: u32) -> Result<()> {
        let mut data = self.lock()?;
        if data
            .licenses
            .get(&session.license_id)
            .is_none_or(|l| l.tenant_id != session.tenant_id)
        {
            return Err(Error::NotFound(Resource::License));
        }
        if data.sessions.contains_key(&session.id) {
            return Err(Error::Conflict("session id exists".into()));
        }
        data.sessions.insert(session.id, session.clone());
        if in_use > 0 {
            let day = usage_day(&mut data, session.license_id, session.acquired_at);
            day.peak_seats = day.peak_seats.max(in_use);
        }
        Ok(())
    }

    async fn get_session(&self, tenant: TenantId, id: SessionId) -> Result<Session> {
        self.lock()?
            .sessions
            .get(&id)
            .filter(|s| s.tenant_id == tenant)
            .cloned()
            .ok_or(Error::NotFound(Resource::Session))
    }

    async fn live_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        after: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        let mut live: Vec<Session> = self
            .lock()?
            .sessions
            .values()
            .filter(|s| s.tenant_id == tenant && s.license_id == license && s.is_live(after))
            .cloned()
            .collect();
        live.sort_by_key(|s| (s.acquired_at, s.id));
        Ok(live)
    }

    async fn live_sessions_page(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
        page: Page<SessionCursor>,
    ) -> Result<Vec<Session>> {
        self.page_where(tenant, license, now, page, |_| true)
    }

    async fn borrowed_sessions_page(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
        page: Page<SessionCursor>,
    ) -> Result<Vec<Session>> {
        self.page_where(tenant, license, now, page, |s| s.borrowed)
    }

    async fn mark_overdraft(&self, tenant: TenantId, id: SessionId) -> Result<()> {
        let mut data = self.lock()?;
        let session = data
            .sessions
            .get_mut(&id)
            .filter(|s| s.tenant_id == tenant)
            .ok_or(Error::NotFound(Resource::Session))?;
        session.overdraft = true;
        Ok(())
    }

    async fn end_linger(&self, tenant: TenantId, id: SessionId, at: DateTime<Utc>) -> Result<()> {
        let mut data = self.lock()?;
        let session = data
            .sessions
            .get_mut(&id)
            .filter(|s| s.tenant_id == tenant)
            .ok_or(Error::NotFound(Resource::Session))?;
        if session.linger_until.is_some_and(|until| until > at) {
            session.linger_until = Some(at);
        }
        Ok(())
    }

    async fn lingering_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.sessions_where(tenant, license, |s| {
            s.ended_at.is_some() && s.linger_until.is_some_and(|until| until > now)
        })
    }

    async fn held_off_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.sessions_where(tenant, license, |s| {
            s.ended_at.is_some()
                && s.eviction
                    .as_ref()
                    .and_then(|e| e.hold_until)
                    .is_some_and(|until| until > now)
        })
    }

    async fn overdraft_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.sessions_where(tenant, license, |s| {
            s.overdraft && s.acquired_at < to && s.ended_at.unwrap_or(s.expires_at) > from
        })
    }

    async fn delete_ended_sessions(
        &self,
        tenant: TenantId,
        ended_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        let mut data = self.lock()?;
        let due: Vec<SessionId> = data
            .sessions
            .values()
            .filter(|s| s.tenant_id == tenant && s.ended_at.is_some_and(|at| at < ended_before))
            .take(limit as usize)
            .map(|s| s.id)
            .collect();
        for id in &due {
            data.sessions.remove(id);
        }
        Ok(due.len() as u64)
    }

    async fn discard_session(&self, tenant: TenantId, id: SessionId) -> Result<()> {
        if self.discards_fail() {
            return Err(Error::unavailable(
                Dependency::Store,
                "in-memory store refuses deletions",
            ));
        }
        let mut data = self.lock()?;
        if data
            .sessions
            .get(&id)
            .is_some_and(|s| s.tenant_id == tenant)
        {
            data.sessions.remove(&id);
        }
        Ok(())
    }

    async fn flush_write_behind(&self, batch: &WriteBehindBatch) -> Result<()> {
        let mut data = self.lock()?;
        for beat in &batch.heartbeats {
            if let Some(session) = data.sessions.get_mut(&beat.session_id)
                && session.tenant_id == beat.tenant_id
                && session.ended_at.is_none()
            {
                session.confirmed = true;
                if session.expires_at < beat.expires_at {
                    session.last_heartbeat_at = beat.at;
                    session.expires_at = beat.expires_at;
                }
            }
        }
        for peak in &batch.peaks {
            if data
                .licenses
                .get(&peak.license_id)
                .is_some_and(|l| l.tenant_id == peak.tenant_id)
            {
                let at = peak.day.and_time(chrono::NaiveTime::MIN).and_utc();
                let day = usage_day(&mut data, peak.license_id, at);
                day.peak_seats = day.peak_seats.max(peak.in_use);
                day.overdraft_peak = day.overdraft_peak.max(peak.overdraft);
            }
        }
        Ok(())
    }

    async fn end_session(
        &self,
        tenant: TenantId,
        id: SessionId,
        end: &SessionEnd,
        audit: Option<&AuditEvent>,
    ) -> Result<Ended> {
        let mut data = self.lock()?;
        let session = data
            .sessions
            .get_mut(&id)
            .filter(|s| s.tenant_id == tenant)
            .ok_or(Error::NotFound(Resource::Session))?;
        let by_this_call = session.ended_at.is_none();
        if by_this_call {
            session.ended_at = Some(end.at);
            session.end_reason = Some(end.reason);
            session.linger_until = end.linger_until;
            session.eviction = end.eviction.clone();
        }
        let session = session.clone();
        if let Some(event) = audit.filter(|_| by_this_call) {
            data.audit.push(event.clone());
        }
        Ok(Ended {
            session,
            by_this_call,
        })
    }

    async fn set_session_secret(
        &self,
        tenant: TenantId,
        id: SessionId,
        hash: &SessionSecretHash,
    ) -> Result<()> {
        let mut data = self.lock()?;
        let session = data
            .sessions
            .get_mut(&id)
            .filter(|s| s.tenant_id == tenant)
            .ok_or(Error::NotFound(Resource::Session))?;
        session.secret_hash = Some(*hash);
        Ok(())
    }

    async fn expire_due(
        &self,
        tenant: TenantId,
        license: LicenseId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Session>> {
        let mut data = self.lock()?;
        let mut marked = Vec::new();
        for session in data.sessions.values_mut().filter(|s| {
            s.tenant_id == tenant
                && s.license_id == license
                && s.ended_at.is_none()
                && s.expires_at <= before
        }) {
            if marked.len() == limit as usize {
                break;
            }
            session.ended_at = Some(session.expires_at);
            session.end_reason = Some(EndReason::Expired);
            marked.push(session.clone());
        }
        Ok(marked)
    }

    async fn record_denial(
        &self,
        tenant: TenantId,
        license: LicenseId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut data = self.lock()?;
        if data
            .licenses
            .get(&license)
            .is_none_or(|l| l.tenant_id != tenant)
        {
            return Err(Error::NotFound(Resource::License));
        }
        usage_day(&mut data, license, at).denials += 1;
        Ok(())
    }

    async fn usage(
        &self,
        tenant: TenantId,
        license: LicenseId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageDay>> {
        let data = self.lock()?;
        if data
            .licenses
            .get(&license)
            .is_none_or(|l| l.tenant_id != tenant)
        {
            return Err(Error::NotFound(Resource::License));
        }
        let mut days: Vec<_> = data
            .usage
            .values()
            .filter(|u| u.license_id == license && u.day >= from && u.day <= to)
            .cloned()
            .collect();
        days.sort_by_key(|u| u.day);
        Ok(days)
    }
}

impl MemoryStore {
    /// The license's sessions that pass `keep`, oldest acquired first.
    fn sessions_where(
        &self,
        tenant: TenantId,
        license: LicenseId,
        keep: impl Fn(&Session) -> bool,
    ) -> Result<Vec<Session>> {
        let data = self.lock()?;
        let mut found: Vec<Session> = data
            .sessions
            .values()
            .filter(|s| s.tenant_id == tenant && s.license_id == license && keep(s))
            .cloned()
            .collect();
        found.sort_unstable_by_key(|s| (s.acquired_at, s.id));
        Ok(found)
    }

    /// A page of the license's live sessions that pass `keep`.
    fn page_where(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
        page: Page<SessionCursor>,
        keep: impl Fn(&Session) -> bool,
    ) -> Result<Vec<Session>> {
        let mut live = self.sessions_where(tenant, license, |s| {
            s.is_live(now) && keep(s) && page.after.is_none_or(|after| after.precedes(s))
        })?;
        live.truncate(page.limit as usize);
        Ok(live)
    }
}
