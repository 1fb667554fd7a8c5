//! [`StaticToken`]: a gcp_auth token provider that always hands out the same access token.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use gcp_auth::{Token, TokenProvider};
use serde_json::json;

use super::ACCESS_TOKEN;

/// A token provider that always hands out the same token, and records the scopes asked for.
/// Its `Debug` never shows the token.
pub struct StaticToken {
    token: Arc<Token>,
    /// Every scope asked for, in order.
    pub scopes: Mutex<Vec<String>>,
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticToken").finish_non_exhaustive()
    }
}

impl StaticToken {
    /// Hands out [`ACCESS_TOKEN`], the one the fake accepts.
    pub fn new() -> Arc<Self> {
        Self::with(ACCESS_TOKEN)
    }

    /// Hands out `token` (the fake refuses anything but [`ACCESS_TOKEN`]).
    pub fn with(token: &str) -> Arc<Self> {
        // gcp_auth builds tokens only from a token endpoint's JSON reply.
        let token: Token =
            serde_json::from_value(json!({"access_token": token, "expires_in": 3600}))
                .unwrap_or_else(|e| panic!("gcp_auth no longer reads a token reply: {e}"));
        Arc::new(Self {
            token: Arc::new(token),
            scopes: Mutex::new(Vec::new()),
        })
    }

    /// The scopes asked for so far.
    pub fn scopes(&self) -> Vec<String> {
        self.scopes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self, scopes: &[&str]) -> Result<Arc<Token>, gcp_auth::Error> {
        let mut seen = self.scopes.lock().unwrap_or_else(PoisonError::into_inner);
        seen.extend(scopes.iter().map(|s| (*s).to_owned()));
        Ok(Arc::clone(&self.token))
    }

    async fn project_id(&self) -> Result<Arc<str>, gcp_auth::Error> {
        Ok(Arc::from("acme-test"))
    }
}
