//! One file per command.

pub mod config;
pub mod dispatch;
pub mod doctor;
pub mod stats;
