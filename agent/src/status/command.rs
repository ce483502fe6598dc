//! Running `eniwatch status`: the client from the kubeconfig, one listing
//! (or one per `--watch` interval), the filters, printing, the exit code.
//!
//! Policy:
//! - The client: `--kubeconfig` (else `KUBECONFIG`, else `~/.kube/config`,
//!   else the in-cluster service account) and `--context`; connect timeout
//!   5 s, read timeout 30 s per page (a page of 500 pods is some 2 MB).
//! - `--nodegroup` / `--zone` narrow the judged view (the plan of a zone
//!   is still computed from the whole cluster's listing).
//! - Text is laid out for the terminal's width (80 when stdout is not a
//!   terminal), in colour only on a terminal and never with `NO_COLOR`.
//! - `--watch` clears the screen and redraws after each listing; a failed
//!   listing is shown in place of the view and retried next interval.
//!   Ctrl-C (or SIGTERM) ends it with the last view's exit code.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use eniwatch_core::model::SelectionSettings;
use eniwatch_core::sources::kube::{client_from, CONNECT_TIMEOUT};
use eniwatch_core::status::selection::inferred_label_def;

use super::args::{StatusArgs, StatusOutput};
use super::list::{list, ListOptions};
use super::view::{render, Layout, Narrow};

/// Exit codes besides the view's own.
pub const EXIT_INCONCLUSIVE: u8 = 2;
pub const EXIT_USAGE: u8 = 64;
/// Per-request read timeout.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The kubeconfig's client, or what to do to give one.
pub async fn client(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Client, String> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
        }
        None if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| format!("kubeconfig context {:?}: {e}", context.unwrap_or_default()))?,
        None => Config::infer().await.map_err(|e| {
            format!(
                "no Kubernetes configuration ({e}): pass --kubeconfig PATH or set KUBECONFIG; \
                 on EKS `aws eks update-kubeconfig --name CLUSTER` writes one"
            )
        })?,
    };
    let mut config = config;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    client_from(config).map_err(|e| e.to_string())
}

/// The text width and colour for stdout.
pub fn layout() -> Layout {
    let tty = std::io::stdout().is_terminal();
    let width = terminal_size::terminal_size()
        .filter(|_| tty)
        .map(|(w, _)| usize::from(w.0))
        .unwrap_or(80);
    let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Layout {
        width,
        colour: tty && !no_colour,
    }
}

/// One listing, rendered: the text to print and the exit code.
async fn once(client: &Client, args: &StatusArgs, options: &ListOptions) -> (String, u8, bool) {
    match list(client, options).await {
        Ok(mut input) => {
            if args.eniconfig_label.is_none() {
                if let Some(label) = inferred_label_def(&input) {
                    eprintln!(
                        "eniwatch: ENIConfigs are named after zones and no node has the label {}: \
                         selecting them by {label} (give aws-node's ENI_CONFIG_LABEL_DEF with \
                         --eniconfig-label to choose)",
                        input.selection.label_def
                    );
                    input.selection.label_def = label.to_string();
                }
            }
            let narrow = Narrow {
                nodegroup: args.nodegroup.as_deref(),
                zone: args.zone.as_deref(),
            };
            match render(&input, narrow, args.output, layout()) {
                Ok(r) => (r.text, r.exit_code, true),
                Err(e) => (
                    format!("eniwatch: cannot render the view: {e}\n"),
                    EXIT_INCONCLUSIVE,
                    false,
                ),
            }
        }
        Err(e) => (format!("eniwatch: {e}\n"), EXIT_INCONCLUSIVE, false),
    }
}

/// `eniwatch status`: the exit code.
pub async fn run(args: &StatusArgs) -> u8 {
    let (facts_namespace, facts_name) = match args.facts_at() {
        Ok(at) => at,
        Err(e) => {
            eprintln!("eniwatch: {e}");
            return EXIT_USAGE;
        }
    };
    let options = ListOptions {
        facts_namespace,
        facts_name,
        selection: match &args.eniconfig_label {
            Some(label) => SelectionSettings {
                label_def: label.clone(),
                ..SelectionSettings::default()
            },
            None => SelectionSettings::default(),
        },
    };
    let client = match client(args.kubeconfig.as_deref(), args.context.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("eniwatch: {e}");
            return EXIT_INCONCLUSIVE;
        }
    };
    let Some(interval) = args.watch else {
        let (text, code, ok) = once(&client, args, &options).await;
        print_out(&text, ok);
        return code;
    };
    let interval = interval.max(Duration::from_secs(1));
    let stop = crate::signals::stop_signal();
    tokio::pin!(stop);
    loop {
        let (text, code, _) = once(&client, args, &options).await;
        let clear = args.output == StatusOutput::Text && std::io::stdout().is_terminal();
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{}{text}", if clear { "\x1b[H\x1b[2J" } else { "" });
        let _ = out.flush();
        drop(out);
        tokio::select! {
            _ = &mut stop => return code,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// The view on stdout, an error on stderr.
fn print_out(text: &str, ok: bool) {
    if ok {
        print!("{text}");
    } else {
        eprint!("{text}");
    }
}

/// [`run`] on the single-threaded runtime: what both binaries call.
pub fn run_blocking(args: &StatusArgs) -> u8 {
    match crate::signals::runtime() {
        Ok(rt) => rt.block_on(run(args)),
        Err(e) => {
            eprintln!("eniwatch: cannot start the async runtime: {e}");
            EXIT_INCONCLUSIVE
        }
    }
}
