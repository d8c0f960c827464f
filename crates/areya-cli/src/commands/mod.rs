//! One file per `areya` subcommand.

pub mod train;
