//! `eniwatch status`: the migration view across nodegroups and zones, from
//! what a read-only client lists (Nodes, Pods, ENIConfigs, NodeClasses and
//! eniwatch-cluster's published facts). Pure: [`input`] is what was
//! listed; [`StatusView::from_input`] judges it once (no clock, no I/O), and
//! [`render_text`] / [`render_json`] show the same view.
//!
//! - `judge`: each node's group, zone, mode, condition, pod places, whether
//!   it is migrated, and its free custom-networking pod slots;
//! - `plan` and `zone_verdicts`: per zone, pods to move against free slots
//!   and against the pod subnet's free addresses, in words;
//! - `group_verdicts`: per nodegroup, migrated or not, and whether it can be
//!   deleted;
//! - [`view`]: the judged data; `render`: text (80 columns) and JSON
//!   (schema 1, documented in docs/status.md).

mod build;
mod group_verdicts;
pub mod input;
mod judge;
mod plan;
mod render;
pub mod selection;
mod time;
pub mod view;
mod zone_verdicts;

#[cfg(any(test, feature = "fixture"))]
pub mod fixture;

pub use build::NO_ZONE;
pub use input::StatusInput;
pub use render::{render_json, render_text};
pub use view::StatusView;
