//! The binary's side of the commands: the long-running ones and what people read.

pub mod commands;
pub mod import;
pub mod print;
