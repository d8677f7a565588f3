//! `sqlx::migrate!` embeds the migrations at compile time but does not watch
//! their folder: without this, a new migration reaches no binary until
//! task-core happens to be rebuilt for another reason.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
