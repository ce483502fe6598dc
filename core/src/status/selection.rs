//! Which node label selects the ENIConfig, when the operator did not say.
//!
//! aws-node's `ENI_CONFIG_LABEL_DEF` is not readable with the status
//! view's read-only rights (it is in the aws-node DaemonSet), and most
//! clusters set it to the zone label and name their ENIConfigs after the
//! zones. Left at the CNI's default (`k8s.amazonaws.com/eniConfig`), such a
//! cluster would look wholly unmigrated. So, only when the label was not
//! given (flag or environment): if no node carries the default label, no
//! ENIConfig is named `default` (the CNI's fallback), and ENIConfigs are
//! named after the nodes' zones, the zone label is used, and the caller
//! says so. Any other cluster keeps the CNI's default.

use std::collections::BTreeSet;

use super::input::StatusInput;
use crate::model::node_kind::{label, ZONE_LABEL};

/// The label to select ENIConfigs by in a cluster whose label was not
/// given; Some(zone label) when the cluster is evidently zone-named.
pub fn inferred_label_def(input: &StatusInput) -> Option<&'static str> {
    let default_label = &input.selection.label_def;
    if input
        .nodes
        .iter()
        .any(|n| label(&n.info.labels, default_label).is_some())
    {
        return None;
    }
    let configs = input.eni_configs.as_ref().ok()?.as_ref()?;
    if configs.iter().any(|c| c.name == "default") {
        return None;
    }
    let zones: BTreeSet<&str> = input
        .nodes
        .iter()
        .filter_map(|n| label(&n.info.labels, ZONE_LABEL))
        .collect();
    configs
        .iter()
        .any(|c| zones.contains(c.name.as_str()))
        .then_some(ZONE_LABEL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::fixture::migration_cluster;

    #[test]
    fn a_zone_named_cluster_is_selected_by_zone() {
        let mut input = migration_cluster();
        input.selection = Default::default();
        assert_eq!(inferred_label_def(&input), Some(ZONE_LABEL));
    }

    #[test]
    fn the_default_label_or_a_default_eniconfig_keeps_the_default() {
        let mut input = migration_cluster();
        input.selection = Default::default();
        let key = input.selection.label_def.clone();
        input.nodes[0].info.labels.insert(key, "custom".into());
        assert_eq!(inferred_label_def(&input), None);

        let mut input = migration_cluster();
        input.selection = Default::default();
        if let Ok(Some(list)) = &mut input.eni_configs {
            list[0].name = "default".into();
        }
        assert_eq!(inferred_label_def(&input), None);

        let mut input = migration_cluster();
        input.selection = Default::default();
        input.eni_configs = Ok(None);
        assert_eq!(inferred_label_def(&input), None);
    }
}
