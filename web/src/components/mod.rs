//! The parts of the page.

pub mod filter_bar;
pub mod live;
pub mod notices;
pub mod task_form;
pub mod task_history;
pub mod task_item;
