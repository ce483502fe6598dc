//! Confirming pods before their findings become drift.
//!
//! The mirror of the pods can lag the API server (a stalled watch, a watch
//! that has not caught up after an outage), and a deleted pod's route and
//! rules are removed by the CNI at once: judged on a stale mirror, such a
//! pod would raise `PodRouteMissing` and `PodRuleMissing`. So each pod
//! finding that is about to come of age is confirmed with one GET of the
//! pod, never more (findings still settling are not looked up, and each pod
//! once per cycle at most). A pod the API says is gone is no subject: its
//! findings are dropped. A pod that cannot be looked up keeps its findings
//! settling for [`RETRY`], and is asked again then.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::daemon::settle::Settler;
use crate::sources::kube_watch::{ClusterWatch, PodPresence};
use eniwatch_core::checks::{Finding, SubjectKind};

/// How long a finding whose pod could not be looked up waits before the next try.
pub const RETRY: Duration = Duration::from_secs(2);

/// Lookups in flight at once.
const CONCURRENCY: usize = 8;

/// A pod by namespace and name.
pub type PodKey = (String, String);

/// The pods named by pod findings among `due` (kernel-only pods, named by
/// IP, cannot be looked up and are not).
pub fn pods_to_confirm(due: &[&Finding]) -> BTreeSet<PodKey> {
    due.iter()
        .filter(|f| f.subject.kind == SubjectKind::Pod)
        .filter_map(|f| Some((f.subject.namespace.clone()?, f.subject.name.clone())))
        .collect()
}

fn pod_of(f: &Finding) -> Option<PodKey> {
    (f.subject.kind == SubjectKind::Pod)
        .then(|| Some((f.subject.namespace.clone()?, f.subject.name.clone())))
        .flatten()
}

/// Confirms the pods of the findings due this cycle; returns the findings
/// without those about pods that are gone, and holds in `settler` those
/// whose pods could not be looked up.
pub async fn confirm(
    watch: &ClusterWatch,
    settler: &mut Settler,
    findings: &[Finding],
    unjudged: &dyn Fn(&str) -> bool,
    limit: Duration,
    now: Instant,
) -> Vec<Finding> {
    let due = settler.due(findings, unjudged, now);
    let pods = pods_to_confirm(&due);
    if pods.is_empty() {
        return findings.to_vec();
    }
    let answers: Vec<(PodKey, PodPresence)> = futures::stream::iter(pods)
        .map(|pod| async move {
            let answer = tokio::time::timeout(limit, watch.pod_exists(&pod.0, &pod.1))
                .await
                .unwrap_or_else(|_| PodPresence::Unknown(format!("no answer within {limit:?}")));
            (pod, answer)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let gone: BTreeSet<&PodKey> = answers
        .iter()
        .filter(|(_, a)| *a == PodPresence::Gone)
        .map(|(p, _)| p)
        .collect();
    for (pod, answer) in &answers {
        if let PodPresence::Unknown(why) = answer {
            tracing::debug!(pod = %format!("{}/{}", pod.0, pod.1), error = %why, "cannot confirm a pod before reporting its drift; asking again shortly");
            for f in due.iter().filter(|f| pod_of(f).as_ref() == Some(pod)) {
                settler.hold(f, now + RETRY);
            }
        }
    }
    findings
        .iter()
        .filter(|f| pod_of(f).is_none_or(|p| !gone.contains(&p)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eniwatch_core::checks::{Reason, Subject};

    fn f(reason: Reason, subject: Subject) -> Finding {
        Finding::new("pod-routes", reason, subject, "broken".into())
    }

    #[test]
    fn only_named_pods_are_looked_up_once_each() {
        let a1 = f(
            Reason::PodRouteMissing,
            Subject::pod(Some("shop".into()), "a"),
        );
        let a2 = f(
            Reason::PodRuleMissing,
            Subject::pod(Some("shop".into()), "a"),
        );
        let by_ip = f(
            Reason::IPAMDStateMismatch,
            Subject::pod(None, "100.64.1.13"),
        );
        let node = f(Reason::ENINotConfigured, Subject::node("n"));
        let pods = pods_to_confirm(&[&a1, &a2, &by_ip, &node]);
        assert_eq!(
            pods.into_iter().collect::<Vec<_>>(),
            vec![("shop".to_string(), "a".to_string())]
        );
    }

    #[tokio::test]
    async fn nothing_due_means_no_lookup_and_nothing_dropped() {
        // No client at all: a lookup would answer Unknown and hold.
        let watch = ClusterWatch::default();
        let mut settler = Settler::new(Duration::from_secs(10));
        let a = f(
            Reason::PodRouteMissing,
            Subject::pod(Some("shop".into()), "a"),
        );
        let now = Instant::now();
        let out = confirm(
            &watch,
            &mut settler,
            std::slice::from_ref(&a),
            &|_| false,
            Duration::from_secs(1),
            now,
        )
        .await;
        assert_eq!(out, vec![a.clone()]);
        settler.observe(&out, &|_| false, now);
        assert_eq!(
            settler.next_deadline(),
            Some(now + Duration::from_secs(10)),
            "not held"
        );
    }

    #[tokio::test]
    async fn a_pod_that_cannot_be_looked_up_is_held_not_raised() {
        let watch = ClusterWatch::default();
        let mut settler = Settler::new(Duration::ZERO);
        let a = f(
            Reason::PodRouteMissing,
            Subject::pod(Some("shop".into()), "a"),
        );
        let now = Instant::now();
        let out = confirm(
            &watch,
            &mut settler,
            std::slice::from_ref(&a),
            &|_| false,
            Duration::from_secs(1),
            now,
        )
        .await;
        assert_eq!(out, vec![a.clone()], "kept, settling");
        assert!(settler.observe(&out, &|_| false, now).is_empty());
        assert_eq!(settler.next_deadline(), Some(now + RETRY));
    }
}
