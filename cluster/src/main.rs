//! The `eniwatch-cluster` binary: parse the command line, hand over to the library.
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use eniwatch_cluster::cli::{Cli, Command, CommonArgs, Config, LogFormat, OutputFormat};
use eniwatch_cluster::daemon::{self, DaemonConfig};
use eniwatch_cluster::render::render_text;
use eniwatch_core::report::{exit, exit_code};

/// How long shutdown may take after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// kube-client's own lines about failed requests (one per retry, as
/// `Debug` dumps) are off: the program says what failed, in words.
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

fn config(args: &CommonArgs) -> Result<Config, ExitCode> {
    let default_region = std::env::var("AWS_DEFAULT_REGION").ok();
    args.to_config(default_region).map_err(|e| {
        eprintln!("eniwatch-cluster: {e}");
        ExitCode::from(exit::USAGE as u8)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("eniwatch-cluster: cannot start the async runtime: {e}");
            ExitCode::from(exit::UNKNOWN as u8)
        })
}

async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn check(output: OutputFormat, common: &CommonArgs) -> Result<ExitCode, ExitCode> {
    init_logs(LogFormat::Text, "warn");
    let config = config(common)?;
    let verdict = runtime()?.block_on(eniwatch_cluster::check::check(&config));
    match output {
        OutputFormat::Text => print!("{}", render_text(&verdict)),
        OutputFormat::Json => match serde_json::to_string_pretty(&verdict) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("eniwatch-cluster: cannot render the verdict as JSON: {e}");
                return Err(ExitCode::from(exit::UNKNOWN as u8));
            }
        },
    }
    Ok(ExitCode::from(exit_code(verdict.status) as u8))
}

fn run(args: &eniwatch_cluster::cli::RunArgs) -> Result<ExitCode, ExitCode> {
    init_logs(args.log_format, DAEMON_LOG_FILTER);
    let config = config(&args.common)?;
    let instance = std::env::var("POD_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "eniwatch-cluster".to_string());
    let cfg = DaemonConfig {
        config,
        listen: args.listen,
        events: !args.no_events,
        publish: !args.no_publish,
        instance,
    };
    let rt = runtime()?;
    Ok(rt.block_on(async {
        let signalled = Arc::new(tokio::sync::Notify::new());
        let notify = signalled.clone();
        tokio::spawn(async move {
            stop_signal().await;
            notify.notify_waiters();
        });
        let stop = signalled.clone();
        let shutdown = async move { stop.notified().await };
        let forced = async {
            signalled.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            result = daemon::run(cfg, shutdown) => match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "eniwatch-cluster cannot start");
                    eprintln!("eniwatch-cluster: {e}");
                    ExitCode::from(exit::USAGE as u8)
                }
            },
            _ = forced => {
                tracing::warn!("shutdown took longer than {SHUTDOWN_GRACE:?}; exiting");
                ExitCode::SUCCESS
            }
        }
    }))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    let result = match &cli.command {
        Command::Check(args) => check(args.output, &args.common),
        Command::Run(args) => run(args),
    };
    result.unwrap_or_else(|code| code)
}
