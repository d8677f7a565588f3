//! Access tokens for runs longer than a token lives (the chaos run, the
//! bench): each demo account's, signed in for through the stack's provider
//! and signed in for again before it expires.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::stack_file::StackFile;

/// Tokens live five minutes; one is used for at most two.
const REUSE: Duration = Duration::from_secs(120);

/// Fresh tokens of the stack's demo accounts, shared by many clients.
#[derive(Clone)]
pub struct Tokens {
    stack: Arc<StackFile>,
    held: Arc<Mutex<HashMap<String, (String, Instant)>>>,
}

impl Tokens {
    pub fn new(stack: &StackFile) -> Self {
        Self {
            stack: Arc::new(stack.clone()),
            held: Arc::default(),
        }
    }

    /// A token of `username` that has minutes left to live.
    pub async fn of(&self, username: &str) -> Result<String, String> {
        let mut held = self.held.lock().await;
        if let Some((token, at)) = held.get(username)
            && at.elapsed() < REUSE
        {
            return Ok(token.clone());
        }
        let token = self.stack.access_token(username).await?;
        held.insert(username.to_string(), (token.clone(), Instant::now()));
        Ok(token)
    }

    /// The `sub` of `username`: the owner and actor its changes carry.
    pub fn sub(&self, username: &str) -> Option<&str> {
        self.stack
            .auth
            .users
            .iter()
            .find(|user| user.username == username)
            .map(|user| user.sub.as_str())
    }
}
