//! The measurements of `bench`, one module each.

pub mod cpu;
pub mod load;
pub mod outbox;
pub mod pipeline;
pub mod process;
pub mod relay_log;
pub mod scale;
pub mod web;
