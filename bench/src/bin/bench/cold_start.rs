//! Cold starts: process start to the first 200 on `/health` (the pool connected).

use std::collections::BTreeMap;

use bench::measure::process::cold_starts;
use bench::stats::Summary;
use task_core::routes::FUNCTIONS;

use crate::{Bench, say};

/// Each function's cold start, by name.
pub fn measure(bench: &Bench) -> anyhow::Result<BTreeMap<String, Summary>> {
    let mut cold = BTreeMap::new();
    for function in FUNCTIONS {
        let times = cold_starts(&bench.release, function, &bench.stack, bench.starts)?;
        let summary = Summary::of(&times);
        say(&format!("cold start {function:<13} {} ms", summary.show(1)));
        cold.insert(function.to_string(), summary);
    }
    Ok(cold)
}
