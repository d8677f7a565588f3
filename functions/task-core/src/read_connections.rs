//! Connections kept between single-statement reads.
//!
//! sqlx's pool checks every connection given back to it with a round trip
//! to PostgreSQL (a `Sync`: a query dropped half-way may have left the
//! connection mid-answer). For a list at one connection that round trip was
//! about a third of the server's CPU per request and cost ~15% of the
//! requests served. A read that ran to its end leaves the connection clean,
//! so [`ReadConnections`] keeps it, out of the pool, for the next read. One
//! whose read failed or was dropped goes back to the pool, which checks it
//! as before.
//!
//! The kept connections stay checked out of the pool, so the pool's
//! `max_connections` still bounds what a function opens; at most half of
//! them are kept, so writes and transactions always find the other half.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

use crate::db::IDLE_BEFORE_PING;

type Kept = Arc<Mutex<Vec<(PoolConnection<Postgres>, Instant)>>>;

/// Hands out connections for reads: a kept one used within
/// [`IDLE_BEFORE_PING`], else one from the pool.
#[derive(Debug, Clone)]
pub struct ReadConnections {
    pool: PgPool,
    kept: Kept,
    keep: usize,
}

impl ReadConnections {
    pub fn new(pool: PgPool) -> Self {
        let keep = pool.options().get_max_connections() as usize / 2;
        Self {
            pool,
            kept: Arc::default(),
            keep,
        }
    }

    /// A connection for one read; call [`ReadConnection::finished`] once
    /// the read succeeded, or it goes back to the pool.
    pub async fn acquire(&self) -> Result<ReadConnection, sqlx::Error> {
        let fresh = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            match kept.last() {
                Some((_, used)) if used.elapsed() < IDLE_BEFORE_PING => kept.pop(),
                // The newest is stale, so all are: the pool checks them.
                Some(_) => {
                    let stale = std::mem::take(&mut *kept);
                    drop(kept);
                    drop(stale);
                    None
                }
                None => None,
            }
        };
        let connection = match fresh {
            Some((connection, _)) => connection,
            None => self.pool.acquire().await?,
        };
        Ok(ReadConnection {
            connection: Some(connection),
            home: self.kept.clone(),
            keep: self.keep,
            finished: false,
        })
    }

    /// How many connections are kept (tests).
    pub fn kept(&self) -> usize {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// A connection lent for one read.
#[derive(Debug)]
pub struct ReadConnection {
    connection: Option<PoolConnection<Postgres>>,
    home: Kept,
    keep: usize,
    finished: bool,
}

impl ReadConnection {
    /// The read ran to its end: the connection is clean and may be kept.
    pub fn finished(mut self) {
        self.finished = true;
    }
}

impl Deref for ReadConnection {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.connection.as_ref().expect("present until dropped")
    }
}

impl DerefMut for ReadConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.connection.as_mut().expect("present until dropped")
    }
}

impl Drop for ReadConnection {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        let back_to_pool = if self.finished {
            let mut kept = self.home.lock().unwrap_or_else(|e| e.into_inner());
            if kept.len() < self.keep {
                kept.push((connection, Instant::now()));
                None
            } else {
                Some(connection)
            }
        } else {
            Some(connection)
        };
        // Outside the lock: the pool checks it on a task of its own.
        drop(back_to_pool);
    }
}
