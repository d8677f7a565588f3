//! The measurements of `bench`, one module each.

pub mod load;
pub mod process;
pub mod pipeline;
pub mod web;
