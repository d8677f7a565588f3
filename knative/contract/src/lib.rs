//! What the Knative manifests under `knative/` are made from and held to.
//!
//! - [`edge_router`]: the edge router's nginx configuration, generated from
//!   the route table (`task_core::routes`) and the templates beside it. The
//!   cluster's copy is committed as `knative/base/edge-router/nginx.conf`
//!   (`task knative:generate`); the local stack renders its own with the
//!   same generator.
//! - [`manifests`] and [`filter`]: the eventing manifests (Brokers, their
//!   config, Triggers with their delivery rules and filters, KafkaSinks)
//!   read from the YAML files; the local broker (`local/broker`) acts on
//!   them exactly as the cluster's broker would.
//! - [`images`]: the images the build produces, which the manifests name.
//!
//! Its tests render every overlay with `kubectl kustomize` and check the
//! promises the manifests make (routes, Triggers and their retry budgets,
//! network policies, the database connection budget, probes, secrets).

pub mod edge_router;
pub mod filter;
pub mod images;
pub mod manifests;
