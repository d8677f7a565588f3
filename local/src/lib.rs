//! The local stack: what `task up` runs, and the parts the tests reuse.

pub mod postgres;
