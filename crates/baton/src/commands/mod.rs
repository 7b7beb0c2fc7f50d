//! One file per command.

pub mod apply;
pub mod config;
pub mod dispatch;
pub mod doctor;
pub mod init;
pub mod kill;
pub mod logs;
pub mod mcp;
pub mod memory;
pub mod proxy;
pub mod ps;
pub mod publish;
pub mod run;
pub mod server;
pub mod spawn;
pub mod stats;
pub mod supervise;
pub mod wait;
