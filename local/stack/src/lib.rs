//! The local stack: what `task up` runs, and the parts the tests reuse.

pub mod admin;
pub mod database;
pub mod function_env;
pub mod launch;
pub mod lock;
pub mod service;
pub mod stack_file;
pub mod supervisor;
pub mod tokens;
