//! The local stack: what `task up` runs, and the parts the tests reuse.

pub mod admin;
pub mod database;
pub mod gateway;
pub mod images;
pub mod kafka;
pub mod launch;
pub mod lock;
pub mod postgres;
pub mod process;
pub mod service;
pub mod stack_file;
pub mod supervisor;
