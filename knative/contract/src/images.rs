//! The container images the build produces: one per function, plus the edge
//! router (nginx with the web app) and the migrations Job.

use task_core::routes::FUNCTIONS;

/// Images that are not functions.
pub const EXTRA_IMAGES: &[&str] = &["edge-router", "migrate"];

/// Every image the build produces, by short name (`task-app/<name>`).
pub fn built_images() -> Vec<&'static str> {
    FUNCTIONS.iter().chain(EXTRA_IMAGES).copied().collect()
}
