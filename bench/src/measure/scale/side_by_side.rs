//! The routes measured at each size, and how: side by side on two stacks,
//! each route's requests alternating between them.

use std::time::{Duration, Instant};

use local_stack::tokens::Tokens;
use sqlx::PgPool;

use super::{COMMON_WORD, NO_MATCH, RARE_WORD, SAMPLES, ScaleData, WARM_UP};

/// One route's requests at one table size.
#[derive(Debug)]
pub struct Timed {
    pub(super) route: String,
    pub(super) tasks: i64,
    pub(super) user_tasks: i64,
    /// Each request's time, ms.
    pub(super) times: Vec<f64>,
    pub(super) response_bytes: usize,
}

/// A route's requests on one stack.
struct Route {
    name: String,
    /// Taken in turn, one per request.
    paths: Vec<String>,
    /// A POST of a new task (else a GET).
    create: bool,
    tasks: i64,
    user_tasks: i64,
}

/// A stack the routes are measured on, and the data it holds.
pub struct Side<'a> {
    pub gateway: &'a str,
    pub pool: &'a PgPool,
    pub tokens: &'a Tokens,
    pub data: &'a ScaleData,
}

/// Which side sends first in a round: each in turn, so that neither always
/// follows the other (and finds, say, its caches cooled by it).
fn turn(round: usize) -> [usize; 2] {
    if round.is_multiple_of(2) {
        [0, 1]
    } else {
        [1, 0]
    }
}

/// Every route on both sides, side by side: a route's requests alternate
/// between the two stacks ([`turn`]), so a drift of this machine's speed
/// falls on both sizes alike. (Measured one after the other, minutes apart,
/// the same search on the same table took 2.7 ms, then 4.2 ms.) Each
/// side's requests, in the order of its routes.
pub async fn measure_side_by_side(sides: [Side<'_>; 2]) -> anyhow::Result<[Vec<Timed>; 2]> {
    anyhow::ensure!(
        sides[0].data.word == sides[1].data.word,
        "the two tables differ: their words of the text are {} and {}",
        sides[0].data.word,
        sides[1].data.word
    );
    let routes = [
        sides[0].data.routes(sides[0].pool).await?,
        sides[1].data.routes(sides[1].pool).await?,
    ];
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut timed: [Vec<Timed>; 2] = [Vec::new(), Vec::new()];
    for (first, second) in routes[0].iter().zip(&routes[1]) {
        let pair = [first, second];
        let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let mut bytes = [0; 2];
        for i in 0..SAMPLES + WARM_UP {
            for s in turn(i) {
                let (elapsed, body) = sides[s].send(&client, pair[s], i).await?;
                if i >= WARM_UP {
                    times[s].push(elapsed);
                    bytes[s] = bytes[s].max(body);
                }
            }
        }
        for (s, times) in times.into_iter().enumerate() {
            let route = pair[s];
            timed[s].push(Timed {
                route: route.name.clone(),
                tasks: route.tasks,
                user_tasks: route.user_tasks,
                times,
                response_bytes: if route.create { 0 } else { bytes[s] },
            });
        }
    }
    Ok(timed)
}

impl Side<'_> {
    /// The `i`th request of `route` as the user: its time (ms) and the
    /// size of its answer. The token is taken before the clock starts (the
    /// whole measurement may outlast one).
    async fn send(
        &self,
        client: &reqwest::Client,
        route: &Route,
        i: usize,
    ) -> anyhow::Result<(f64, usize)> {
        let token = self
            .tokens
            .of(&self.data.user)
            .await
            .map_err(anyhow::Error::msg)?;
        let url = format!("{}{}", self.gateway, route.paths[i % route.paths.len()]);
        let request = if route.create {
            client
                .post(url)
                .json(&serde_json::json!({"title": format!("scale {i}")}))
        } else {
            client.get(url)
        }
        .bearer_auth(token);
        let start = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(status.is_success(), "{}: {status}", route.name);
        Ok((elapsed, body.len()))
    }
}

impl ScaleData {
    /// Every measured route at the table's current size, as the user: the
    /// paths of each (one, or a few taken in turn), with the table's size.
    async fn routes(&self, pool: &PgPool) -> anyhow::Result<Vec<Route>> {
        let tasks = self.tasks(pool).await?;
        let mine = self.user_tasks(pool).await?;
        let middle_id: i64 = sqlx::query_scalar(
            "SELECT id FROM tasks WHERE owner = $2 ORDER BY id OFFSET $1 LIMIT 1",
        )
        .bind(mine / 2)
        .bind(&self.sub)
        .fetch_one(pool)
        .await?;
        let word = &self.word;
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM tasks WHERE owner = $2 ORDER BY random() LIMIT $1")
                .bind((SAMPLES + WARM_UP) as i64)
                .bind(&self.sub)
                .fetch_all(pool)
                .await?;
        let history = self.history_task;
        let reads: Vec<(String, Vec<String>)> = vec![
            (
                "GET /api/tasks?limit=50".into(),
                vec!["/api/tasks?limit=50".into()],
            ),
            (
                "GET /api/tasks?limit=50&status=complete".into(),
                vec!["/api/tasks?limit=50&status=complete".into()],
            ),
            (
                "GET /api/tasks?limit=50&cursor=<the middle>".into(),
                vec![format!("/api/tasks?limit=50&cursor={middle_id}")],
            ),
            (
                format!("GET /api/tasks?q=<rare word> ({RARE_WORD}, 10 tasks)"),
                vec![format!("/api/tasks?q={RARE_WORD}")],
            ),
            (
                format!("GET /api/tasks?q=<a word of the text> ({word})"),
                vec![format!("/api/tasks?q={word}")],
            ),
            (
                format!("GET /api/tasks?q=<common word> ({COMMON_WORD}, 1 in 10)"),
                vec![format!("/api/tasks?q={COMMON_WORD}")],
            ),
            (
                "GET /api/tasks?q=<no match>".into(),
                vec![format!("/api/tasks?q={NO_MATCH}")],
            ),
            (
                "GET /api/task-counts".into(),
                vec!["/api/task-counts".into()],
            ),
            (
                "GET /api/task-counts?q=<rare word>".into(),
                vec![format!("/api/task-counts?q={RARE_WORD}")],
            ),
            (
                "GET /api/task-counts?q=<common word>".into(),
                vec![format!("/api/task-counts?q={COMMON_WORD}")],
            ),
            (
                "GET /api/tasks/{id}".into(),
                ids.iter().map(|id| format!("/api/tasks/{id}")).collect(),
            ),
            (
                "GET /api/tasks/{id}/history (20,000 entries: the newest page)".into(),
                vec![format!("/api/tasks/{history}/history")],
            ),
            (
                "GET /api/tasks/{id}/history (20,000 entries: a page in the middle)".into(),
                vec![format!(
                    "/api/tasks/{history}/history?cursor={}",
                    self.history_middle
                )],
            ),
        ];
        let route = |name: String, paths: Vec<String>, create: bool| Route {
            name,
            paths,
            create,
            tasks,
            user_tasks: mine,
        };
        let mut routes: Vec<Route> = reads
            .into_iter()
            .map(|(name, paths)| route(name, paths, false))
            .collect();
        routes.push(route(
            "POST /api/tasks".into(),
            vec!["/api/tasks".into()],
            true,
        ));
        Ok(routes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_side_sends_first_in_every_other_round() {
        let rounds: Vec<[usize; 2]> = (0..4).map(turn).collect();
        assert_eq!(rounds, [[0, 1], [1, 0], [0, 1], [1, 0]]);
        let firsts = |side| {
            (0..SAMPLES + WARM_UP)
                .filter(|&i| turn(i)[0] == side)
                .count()
        };
        assert!(firsts(0).abs_diff(firsts(1)) <= 1);
    }
}
