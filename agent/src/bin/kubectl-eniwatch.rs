//! `kubectl eniwatch`: the kubectl plugin. kubectl runs `kubectl-eniwatch`
//! from PATH with the arguments after the plugin name, so
//! `kubectl eniwatch status ...` runs `eniwatch status ...`, the same code.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use eniwatch::status::args::{StatusArgs, STATUS_HELP};

#[derive(Debug, Parser)]
#[command(
    name = "kubectl eniwatch",
    bin_name = "kubectl eniwatch",
    version,
    about = "eniwatch as a kubectl plugin: the cluster's AWS VPC CNI custom-networking migration.",
    after_help = "Install: put the kubectl-eniwatch binary on PATH (e.g. \
        `install -m 0755 kubectl-eniwatch /usr/local/bin/`); `kubectl plugin list` then shows it \
        and `kubectl eniwatch status` runs it. It uses kubectl's kubeconfig (KUBECONFIG or \
        ~/.kube/config); --kubeconfig and --context go after `status`."
)]
struct Plugin {
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// The cluster's migration: nodegroups and zones, pods still to move, capacity.
    #[command(after_help = STATUS_HELP)]
    Status(Box<StatusArgs>),
}

fn main() -> ExitCode {
    let plugin = match Plugin::try_parse() {
        Ok(p) => p,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 64 } else { 0 });
        }
    };
    match plugin.command {
        PluginCommand::Status(args) => {
            ExitCode::from(eniwatch::status::command::run_blocking(&args))
        }
    }
}
