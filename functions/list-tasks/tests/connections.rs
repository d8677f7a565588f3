//! The connections lists and counts read on (`task_core::read_connections`):
//! kept after a read that ran to its end, so the pool does not check them
//! with a round trip; never kept after one that failed or was dropped
//! half-way; never more than half the pool.

use std::time::Duration;

use task_core::read_connections::ReadConnections;
use test_support::TestDatabase;

async fn backend(reads: &ReadConnections) -> i32 {
    let mut conn = reads.acquire().await.unwrap();
    let pid = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    conn.finished();
    pid
}

#[tokio::test]
async fn a_finished_read_keeps_its_connection_out_of_the_pool_for_the_next() {
    let db = TestDatabase::new().await;
    let pool = db.pool_of(4).await;
    let reads = ReadConnections::new(pool.clone());
    let first = backend(&reads).await;
    assert_eq!(reads.kept(), 1);
    assert_eq!(pool.num_idle(), 0, "not given back to the pool");
    for _ in 0..10 {
        assert_eq!(backend(&reads).await, first, "the same connection again");
    }
    assert_eq!(pool.size(), 1);
}

#[tokio::test]
async fn a_read_dropped_half_way_or_failed_is_not_kept() {
    let db = TestDatabase::new().await;
    let reads = ReadConnections::new(db.pool_of(4).await);

    // Dropped while PostgreSQL is still answering.
    let mut conn = reads.acquire().await.unwrap();
    let slow = sqlx::query_scalar::<_, String>("SELECT pg_sleep(0.5)::text || 'late'")
        .fetch_one(&mut *conn);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), slow)
            .await
            .is_err()
    );
    drop(conn);
    assert_eq!(reads.kept(), 0);

    // Failed.
    let mut conn = reads.acquire().await.unwrap();
    assert!(
        sqlx::query("SELECT 1 / 0")
            .execute(&mut *conn)
            .await
            .is_err()
    );
    drop(conn);
    assert_eq!(reads.kept(), 0);

    // What follows reads its own answer, never the one left behind.
    for n in 0..5 {
        let mut conn = reads.acquire().await.unwrap();
        let got: i32 = sqlx::query_scalar("SELECT $1")
            .bind(n)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        conn.finished();
        assert_eq!(got, n);
    }
    assert_eq!(reads.kept(), 1);
}

#[tokio::test]
async fn at_most_half_the_pool_is_kept_and_stale_ones_go_back() {
    let db = TestDatabase::new().await;
    let pool = db.pool_of(4).await;
    let reads = ReadConnections::new(pool.clone());
    let conns = [
        reads.acquire().await.unwrap(),
        reads.acquire().await.unwrap(),
        reads.acquire().await.unwrap(),
    ];
    for conn in conns {
        conn.finished();
    }
    assert_eq!(reads.kept(), 2, "half of 4");

    // Unused for longer than a connection may idle unchecked: back to the
    // pool, which checks them before they serve again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let conn = reads.acquire().await.unwrap();
    assert_eq!(reads.kept(), 0);
    conn.finished();
    assert_eq!(reads.kept(), 1);

    // A pool of one keeps nothing: the pool's own users need it.
    let reads = ReadConnections::new(db.pool_of(1).await);
    backend(&reads).await;
    assert_eq!(reads.kept(), 0);
}
