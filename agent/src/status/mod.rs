//! `eniwatch status`: the migration view across nodegroups and zones, for an
//! operator with a kubeconfig (also `kubectl eniwatch status`).
//!
//! - [`args`]: the command line;
//! - [`list`]: what is read from the API, paged and reduced at once into
//!   `eniwatch_core::status::input::StatusInput`;
//! - [`view`]: the one call into the pure part (`eniwatch_core::status`),
//!   which judges the input once and renders it as text or JSON;
//! - [`command`]: the client, the filters, printing, `--watch`, exit codes.

pub mod args;
pub mod command;
pub mod list;
pub mod view;
