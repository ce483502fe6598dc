//! `eniwatch status`: the migration view across nodegroups and zones, from
//! what a read-only client lists (Nodes, Pods, ENIConfigs, NodeClasses and
//! eniwatch-cluster's published facts). Pure: [`input`] is what was
//! listed; the plan is computed from it once and rendered as text or JSON.

pub mod input;
