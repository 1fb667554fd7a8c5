//! The append-only audit log: who changed what, when.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AuditEventId, TenantId};

/// Who performed a change.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// The server operator (bootstrap credential).
    Operator,
    /// A tenant API key, by id.
    ApiKey(crate::ids::ApiKeyId),
    /// An end user authenticated by OIDC, by subject.
    User(String),
    /// The server itself (reaper, license suspension side effects).
    System,
}

impl Actor {
    /// A compact text form for storage and logs (`operator`, `api_key:<id>`, `user:<sub>`).
    pub fn to_label(&self) -> String {
        match self {
            Actor::Operator => "operator".into(),
            Actor::ApiKey(id) => format!("api_key:{id}"),
            Actor::User(sub) => format!("user:{sub}"),
            Actor::System => "system".into(),
        }
    }
}

/// One audit entry. Stores write it in the same transaction as the change it describes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Its id.
    pub id: AuditEventId,
    /// The tenant whose data changed.
    pub tenant_id: TenantId,
    /// Who changed it.
    pub actor: Actor,
    /// What was done, dotted (`license.create`, `session.force_release`).
    pub action: String,
    /// What it was done to (`license:<id>`).
    pub target: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Anything else worth keeping (new values, reasons). Never secrets.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// A new event with a fresh id.
    pub fn new(
        tenant_id: TenantId,
        actor: Actor,
        action: &str,
        target: String,
        at: DateTime<Utc>,
        details: serde_json::Value,
    ) -> Self {
        Self {
            id: AuditEventId::new(),
            tenant_id,
            actor,
            action: action.to_owned(),
            target,
            at,
            details,
        }
    }
}
