//! The `eniwatch` binary: parse the command line, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use eniwatch::cli::{Cli, Command, OutputFormat};
use eniwatch::report::{exit, render_text, Report};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Reasons => {
            print!("{}", eniwatch::checks::finding::reasons_markdown());
            ExitCode::SUCCESS
        }
        Command::Check(args) => {
            let config = match args.sources.to_config() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("eniwatch: {e}");
                    return ExitCode::from(exit::USAGE as u8);
                }
            };
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("eniwatch: cannot start the async runtime: {e}");
                    return ExitCode::from(exit::UNKNOWN as u8);
                }
            };
            let snapshot = runtime.block_on(eniwatch::gather::gather(&config));
            let evaluation = eniwatch::checks::evaluate(&snapshot);
            let report = Report::build(&snapshot, &evaluation);
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
