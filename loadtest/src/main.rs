//! `loadtest`: a load generator for the watch-party server, speaking the real WebSocket
//! protocol (`watchparty_core::protocol`) over tokio-tungstenite. Run it as its own process against
//! loopback servers; `loadtest --help` lists the scenarios and options, and
//! `docs/benchmarks.md` the figures it produced.
//!
//! Design: one multi-thread tokio runtime, one task per connection with 4 KiB buffers; commands
//! are paced open loop (a fixed schedule that never waits for responses), every viewer
//! timestamps every broadcast on one process-wide monotonic clock, and the accounting
//! ([`account`], over [`stats`]) turns that into fan-out latency, loss and duplicates.

mod account;
mod cli;
mod clock;
mod conn;
mod procfs;
mod report;
mod run;
mod stats;
mod svg;
mod target;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cfg = match cli::parse(std::env::args()) {
        Ok(c) => c,
        // `--help` prints and exits 0; a bad command line prints the error and exits 2.
        Err(cli::CliError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("loadtest: {e}\n\nSee loadtest --help.");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadtest: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let timeout = cfg.timeout;
    let json = cfg.json;
    let result =
        runtime.block_on(async move { tokio::time::timeout(timeout, run::run(cfg)).await });
    // Connections still open are dropped with the runtime.
    runtime.shutdown_background();
    match result {
        Err(_) => {
            eprintln!(
                "loadtest: global timeout of {} s reached",
                timeout.as_secs()
            );
            ExitCode::from(3)
        }
        Ok(Err(e)) => {
            eprintln!("loadtest: {e}");
            ExitCode::from(2)
        }
        Ok(Ok(report)) => {
            if json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => eprintln!("loadtest: cannot write JSON: {e}"),
                }
                eprint!("{}", report.table());
            } else {
                print!("{}", report.table());
            }
            if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
