//! Flow records and everything that writes output: JSON Lines, CSV, the
//! terminal summary and the HTML report. The only module that writes output.

pub mod baseline;
pub mod build;
pub mod csv;
pub mod escape;
pub mod flow_id;
pub mod html;
pub mod jsonl;
pub mod line;
pub mod line_pool;
pub mod messages;
pub mod progress;
pub mod record;
pub mod stats;
pub mod summary;
pub mod timestamp;
