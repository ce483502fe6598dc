//! What one cluster check produced, and how it becomes a [`CheckResult`]:
//! the node checks' rule, restated for this crate (core keeps its own
//! private). A drift finding makes the check `drift`; a part that could not
//! be judged makes it `unknown` when nothing else was found, and is named in
//! the detail when something was.

use eniwatch_core::checks::{CheckResult, CheckStatus, Finding};

#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub findings: Vec<Finding>,
    /// What could not be judged, and why (one entry per part).
    pub unknown: Vec<String>,
    /// One line for an ok (or not applicable) result.
    pub ok_detail: String,
    /// Not run: the cluster does not use what the check judges.
    pub not_applicable: bool,
}

impl Outcome {
    pub fn unknown(reason: impl Into<String>) -> Outcome {
        Outcome {
            unknown: vec![reason.into()],
            ..Outcome::default()
        }
    }

    pub fn ok(detail: impl Into<String>) -> Outcome {
        Outcome {
            ok_detail: detail.into(),
            ..Outcome::default()
        }
    }

    pub fn not_applicable(why: impl Into<String>) -> Outcome {
        Outcome {
            ok_detail: why.into(),
            not_applicable: true,
            ..Outcome::default()
        }
    }

    pub fn into_result(self, name: &'static str) -> (CheckResult, Vec<Finding>) {
        let drift = self.findings.iter().filter(|f| f.is_drift()).count();
        let unknown = self.unknown.join("; ");
        let (status, detail) = if drift > 0 {
            let mut detail = format!("{drift} finding{}", if drift == 1 { "" } else { "s" });
            if !unknown.is_empty() {
                detail.push_str(&format!("; also not judged: {unknown}"));
            }
            (CheckStatus::Drift, detail)
        } else if self.not_applicable {
            (CheckStatus::NotApplicable, self.ok_detail)
        } else if !unknown.is_empty() {
            (CheckStatus::Unknown, unknown)
        } else {
            (CheckStatus::Ok, self.ok_detail)
        };
        let mut findings = self.findings;
        for f in &mut findings {
            f.check = name;
        }
        (
            CheckResult {
                name,
                status,
                detail,
            },
            findings,
        )
    }
}
