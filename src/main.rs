//! The `sightline` binary: parses the command line and hands over to `sightline::cli`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = sightline::cli::Args::parse();
    sightline::cli::run(args)
}
