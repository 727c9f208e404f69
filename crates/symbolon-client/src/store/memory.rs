use super::TokenStore;
use crate::error::Result;
use crate::tokens::StoredTokens;
use std::sync::Mutex;

/// Tokens in memory only: gone when the process ends.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tokens: Mutex<Option<StoredTokens>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<StoredTokens>> {
        // A panic while holding this lock cannot leave the Option half-written.
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryStore {
    async fn load(&self) -> Result<Option<StoredTokens>> {
        Ok(self.slot().clone())
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<()> {
        *self.slot() = Some(tokens.clone());
        Ok(())
    }

    async fn clear(&self) -> Result<()> {
        *self.slot() = None;
        Ok(())
    }
}
