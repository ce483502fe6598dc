//! The verdict of one judgement, as `check` prints it: JSON (schema
//! [`SCHEMA_VERSION`]) or text readable at 80 columns. Rendered from the
//! evaluation; nothing here judges, except the one rule of the overall
//! status: the worst check, and *unknown* at best when a source could not
//! be read (an API server or EC2 that did not answer is never "ok").

use std::fmt::Write;

use eniwatch_core::checks::{CheckResult, CheckStatus, Finding};
use serde::Serialize;

use eniwatch_core::published::{PublishedFacts, PublishedNodeClass, ZoneSubnets};

use crate::checks::{ClusterEvaluation, SubnetSummary};

pub const SCHEMA_VERSION: u32 = 1;

/// A source that could not be read, for the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct SourceError {
    pub source: &'static str,
    pub error: String,
}

/// `check --output json`.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub schema_version: u32,
    pub generated_at: String,
    pub vpc_id: Option<String>,
    pub status: CheckStatus,
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
    pub subnets: Vec<SubnetSummary>,
    pub ec2_requests: Vec<RequestCount>,
    /// Sources that could not be read (empty when all were).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_errors: Vec<SourceError>,
    /// What `run` publishes as `cni_subnets` (absent: EC2 did not list the subnets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cni_subnets: Option<Vec<ZoneSubnets>>,
    /// What `run` publishes as `node_classes` (EKS Auto Mode), resolved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_classes: Vec<PublishedNodeClass>,
    /// Why the NodeClasses could not be listed (not judged: beside the verdict).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_classes_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestCount {
    pub operation: String,
    pub outcome: String,
    pub count: u64,
}

/// The worst check; at least unknown when a source is down or no check ran.
pub fn overall(eval: &ClusterEvaluation, sources_down: bool) -> CheckStatus {
    let worst = eval.checks.iter().map(|c| c.status).max();
    match worst {
        None => CheckStatus::Unknown,
        Some(s) if sources_down => s.max(CheckStatus::Unknown),
        Some(s) => s,
    }
}

impl Verdict {
    pub fn new(
        eval: &ClusterEvaluation,
        vpc_id: Option<String>,
        generated_at: jiff::Timestamp,
        requests: &std::collections::BTreeMap<(&'static str, &'static str), u64>,
        source_errors: Vec<SourceError>,
    ) -> Verdict {
        Verdict {
            schema_version: SCHEMA_VERSION,
            generated_at: generated_at.to_string(),
            vpc_id,
            status: overall(eval, !source_errors.is_empty()),
            checks: eval.checks.clone(),
            findings: eval.findings.clone(),
            subnets: eval.subnets.clone(),
            ec2_requests: requests
                .iter()
                .map(|((op, outcome), n)| RequestCount {
                    operation: op.to_string(),
                    outcome: outcome.to_string(),
                    count: *n,
                })
                .collect(),
            source_errors,
            cni_subnets: None,
            node_classes: Vec::new(),
            node_classes_error: None,
        }
    }

    /// With the resolved CNI subnets and NodeClasses of the facts `run`
    /// would publish.
    pub fn with_facts(
        mut self,
        facts: &PublishedFacts,
        node_classes_error: Option<String>,
    ) -> Self {
        self.cni_subnets.clone_from(&facts.cni_subnets);
        self.node_classes.clone_from(&facts.node_classes);
        self.node_classes_error = node_classes_error;
        self
    }
}

fn status_word(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Ok => "ok",
        CheckStatus::Drift => "DRIFT",
        CheckStatus::Unknown => "unknown",
        CheckStatus::Skipped => "skipped",
        CheckStatus::NotApplicable => "n/a",
    }
}

/// Wraps `text` at `width` columns, each line after the first indented by `indent`.
fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut col = indent;
    for word in text.split_whitespace() {
        if col > indent && col + 1 + word.len() > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if col > indent {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out
}

fn dash<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".into(), T::to_string)
}

/// The verdict for a terminal, 80 columns.
pub fn render_text(v: &Verdict) -> String {
    let mut o = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        o,
        "VPC        {}\nStatus     {}",
        dash(&v.vpc_id),
        status_word(v.status)
    );
    for e in &v.source_errors {
        let _ = writeln!(
            o,
            "  {} unavailable:\n    {}",
            e.source,
            wrap(&e.error, 80, 4)
        );
    }
    let _ = writeln!(o, "\nChecks");
    for c in &v.checks {
        let head = format!("  {:<26} {:<8} ", c.name, status_word(c.status));
        let _ = writeln!(o, "{head}{}", wrap(&c.detail, 80, head.len()));
    }
    if !v.findings.is_empty() {
        let _ = writeln!(o, "\nFindings");
        for f in &v.findings {
            let _ = writeln!(
                o,
                "  {} ({}) {}",
                f.reason.as_str(),
                f.severity.as_str(),
                f.subject
            );
            let _ = writeln!(o, "    {}", wrap(&f.message, 80, 4));
            let _ = writeln!(o, "    fix: {}", wrap(f.hint, 80, 9));
        }
    }
    if !v.subnets.is_empty() {
        let _ = writeln!(o, "\nSubnets");
        let _ = writeln!(
            o,
            "  {:<24} {:<4} {:<10} {:>6} {:>6} {:>5} {:>5} route",
            "id", "role", "zone id", "size", "free", "/28s", "nodes"
        );
        for s in &v.subnets {
            let _ = writeln!(
                o,
                "  {:<24} {:<4} {:<10} {:>6} {:>6} {:>5} {:>5} {}",
                s.id.as_str(),
                s.role,
                dash(&s.availability_zone_id),
                dash(&s.size),
                dash(&s.free_addresses),
                dash(&s.free_prefixes),
                s.nodes,
                s.route.unwrap_or("-")
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use eniwatch_core::checks::{Reason, Subject};

    fn eval(status: CheckStatus) -> ClusterEvaluation {
        ClusterEvaluation {
            checks: vec![CheckResult {
                name: "eniconfig-subnets",
                status,
                detail:
                    "a detail long enough to be wrapped somewhere past the eightieth column of \
                         a terminal, which it is"
                        .into(),
            }],
            findings: vec![Finding::new(
                "eniconfig-subnets",
                Reason::ENIConfigSubnetNotFound,
                Subject::eniconfig("eu-west-1a"),
                "subnet-0abc does not exist".into(),
            )],
            ..ClusterEvaluation::default()
        }
    }

    #[test]
    fn a_source_down_is_never_ok() {
        assert_eq!(overall(&eval(CheckStatus::Ok), false), CheckStatus::Ok);
        assert_eq!(overall(&eval(CheckStatus::Ok), true), CheckStatus::Unknown);
        assert_eq!(overall(&eval(CheckStatus::Drift), true), CheckStatus::Drift);
        assert_eq!(
            overall(&ClusterEvaluation::default(), false),
            CheckStatus::Unknown
        );
    }

    #[test]
    fn text_fits_80_columns() {
        let v = Verdict::new(
            &eval(CheckStatus::Drift),
            Some("vpc-0abc".into()),
            jiff::Timestamp::UNIX_EPOCH,
            &Default::default(),
            vec![],
        );
        let text = render_text(&v);
        assert!(text.contains("ENIConfigSubnetNotFound"), "{text}");
        assert!(text.contains("fix: "), "{text}");
        for line in text.lines() {
            assert!(line.len() <= 80, "{line:?}");
        }
    }
}
