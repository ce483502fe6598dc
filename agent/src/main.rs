//! The `eniwatch` binary: parse the command line, hand over to the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use eniwatch::cli::{Cli, Command, LogFormat, OutputFormat, RunArgs};
use eniwatch::daemon::agent::{self, DaemonConfig};
use eniwatch::daemon::http_tls::SecureMetrics;
use eniwatch::daemon::run::LoopConfig;
use eniwatch_core::report::{exit, render_text, Report};

/// How long shutdown may take after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The daemon's log filter when `RUST_LOG` is unset. kube-client's own lines
/// about failed requests and cut connections (one per retry, as `Debug`
/// dumps) are off: the daemon logs each source outage once, in words.
const DAEMON_LOG_FILTER: &str =
    "info,kube_client::client=error,kube_client::client::builder=off,kube_client::client::tls=warn";

fn init_logs(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn run_daemon(args: RunArgs) -> ExitCode {
    init_logs(args.log_format, DAEMON_LOG_FILTER);
    for w in args.sources.warnings() {
        tracing::warn!("{w}");
    }
    let sources = match args.sources.to_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("eniwatch: {e}");
            return ExitCode::from(exit::USAGE as u8);
        }
    };
    let secure_metrics = match SecureMetrics::from_flags(
        args.secure_metrics,
        args.tls_cert_file.clone(),
        args.tls_key_file.clone(),
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("eniwatch: {e}");
            return ExitCode::from(exit::USAGE as u8);
        }
    };
    let config = DaemonConfig {
        sources,
        listen: args.listen,
        debug_listen: args.debug_listen.0,
        secure_metrics,
        pace: LoopConfig {
            imds_interval: args.imds_interval.max(Duration::from_secs(1)),
            grace: args.grace_period,
            debounce: args.debounce,
            // Kernel and API changes wake the loop themselves, IMDS's timer
            // reads IMDS; ipamd is read on full cycles only.
            idle_cycle: args.full_cycle_interval.max(Duration::from_secs(1)),
        },
        events: !args.no_events,
        condition: (!args.no_condition)
            .then_some(args.condition_heartbeat.max(Duration::from_secs(10))),
        condition_stale_after: args.condition_stale_after,
    };
    let runtime = match eniwatch::signals::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("eniwatch: cannot start the async runtime: {e}");
            return ExitCode::from(70);
        }
    };
    runtime.block_on(async {
        let signalled = Arc::new(tokio::sync::Notify::new());
        let notify = signalled.clone();
        tokio::spawn(async move {
            eniwatch::signals::stop_signal().await;
            notify.notify_waiters();
        });
        let stop = signalled.clone();
        let shutdown = async move { stop.notified().await };
        let forced = async {
            signalled.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            result = agent::run(config, shutdown) => match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "eniwatch cannot start");
                    eprintln!("eniwatch: {e}");
                    ExitCode::from(exit::USAGE as u8)
                }
            },
            _ = forced => {
                tracing::warn!("shutdown took longer than {SHUTDOWN_GRACE:?}; exiting");
                ExitCode::SUCCESS
            }
        }
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    match cli.command {
        Command::Run(args) => run_daemon(*args),
        Command::Status(args) => ExitCode::from(eniwatch::status::command::run_blocking(&args)),
        Command::Reasons => {
            print!("{}", eniwatch_core::checks::finding::reasons_markdown());
            ExitCode::SUCCESS
        }
        Command::Check(args) => {
            init_logs(LogFormat::Text, "warn");
            let config = match args.sources.to_config() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("eniwatch: {e}");
                    return ExitCode::from(exit::USAGE as u8);
                }
            };
            let runtime = match eniwatch::signals::runtime() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("eniwatch: cannot start the async runtime: {e}");
                    return ExitCode::from(exit::UNKNOWN as u8);
                }
            };
            for w in args.sources.warnings() {
                tracing::warn!("{w}");
            }
            let snapshot = runtime.block_on(eniwatch::gather::gather(&config));
            let (_, report) = Report::judge(&snapshot);
            match args.output {
                OutputFormat::Text => print!("{}", render_text(&report)),
                OutputFormat::Json => match serde_json::to_string_pretty(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("eniwatch: cannot render the report as JSON: {e}");
                        return ExitCode::from(exit::UNKNOWN as u8);
                    }
                },
            }
            ExitCode::from(report.exit_code as u8)
        }
    }
}
