//! Does the ENIConfig the node selects exist, and is it well formed?

use super::context::{Context, NoExpectation};
use super::{Finding, Outcome, Reason, Subject};

pub(crate) fn eniconfig_selected(ctx: &Context) -> Outcome {
    match &ctx.expected {
        Ok(e) => match &e.selection {
            Some(s) => Outcome::ok(format!(
                "ENIConfig {:?} (selected by {}) names {}",
                s.name, s.selected_by, e.subnet
            )),
            None => Outcome::ok(format!("expectation from --expect-subnet {}", e.subnet)),
        },
        Err(NoExpectation::NotFound {
            selection,
            crd_missing,
        }) => {
            let mut message = format!(
                "the node selects ENIConfig {:?} (by {}), but no ENIConfig has that name",
                selection.name, selection.selected_by
            );
            if *crd_missing {
                message.push_str(
                    "; the ENIConfig CRD (eniconfigs.crd.k8s.amazonaws.com) is not installed",
                );
            }
            let mut out = Outcome::ok(String::new());
            out.findings.push(Finding::new(
                "",
                Reason::ENIConfigNotFound,
                Subject::node(ctx.node_name.clone()),
                message,
            ));
            out
        }
        Err(NoExpectation::Invalid {
            selection,
            problems,
        }) => {
            let mut out = Outcome::ok(String::new());
            out.findings.push(Finding::new(
                "",
                Reason::ENIConfigInvalid,
                Subject::eniconfig(selection.name.clone()),
                format!(
                    "ENIConfig {:?} (selected by {}) is malformed: {}; the VPC CNI cannot \
                     create ENIs from it",
                    selection.name,
                    selection.selected_by,
                    problems.join("; ")
                ),
            ));
            out
        }
        Err(other) => Outcome::unknown(super::no_expectation_detail(other)),
    }
}
