use super::super::verdict;
use super::*;
use eniwatch_core::checks::{evaluate, fixture};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// 2025-01-01T12:03:04Z plus `n` seconds.
fn at(n: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + secs(1_735_732_984 + n)
}

fn judge(s: &Snapshot) -> Verdict {
    let e = evaluate(s);
    verdict(&e.findings, &e.checks)
}

fn imds_down() -> Snapshot {
    let mut s = fixture::healthy_witnessed();
    s.imds = Err(Unavailable::new("imds", "connection refused").with_kind("unreachable"));
    s.cluster_facts = Witness::On(Err(Unavailable::new(
        "cluster_facts",
        "no Kubernetes client",
    )
    .with_kind("dependency")));
    s
}

#[test]
fn an_outage_is_named_by_its_sources_and_kinds() {
    assert_eq!(outage(&fixture::healthy_witnessed()), None);
    assert_eq!(
        outage(&imds_down()).as_deref(),
        Some("IMDS unreachable"),
        "the published facts only depend on another source"
    );
    let mut s = imds_down();
    s.ipamd = Witness::On(Err(Unavailable::new("ipamd", "slow").with_kind("timeout")));
    assert_eq!(
        outage(&s).as_deref(),
        Some("IMDS unreachable, ipamd timed out")
    );
    let mut s = fixture::healthy_witnessed();
    s.cluster_facts = Witness::On(Err(
        Unavailable::new("cluster_facts", "x").with_kind("forbidden")
    ));
    assert_eq!(
        outage(&s).as_deref(),
        Some("eniwatch-cluster's facts forbidden")
    );
}

#[test]
fn a_judged_status_is_kept_through_a_short_outage_then_unknown() -> Result<(), ConditionError> {
    let t0 = Instant::now();
    let mut hold = Hold::new(secs(300));
    let healthy = fixture::healthy_witnessed();
    let ok = hold.apply(judge(&healthy), outage(&healthy).as_deref(), t0, at(0))?;
    assert_eq!(ok.status, ConditionStatus::True);
    assert_eq!(hold.deadline(), None);

    let down = imds_down();
    let fresh = judge(&down);
    assert_eq!(
        fresh.status,
        ConditionStatus::Unknown,
        "what the checks say"
    );
    let o = outage(&down);
    let held = hold.apply(fresh.clone(), o.as_deref(), t0 + secs(30), at(30))?;
    assert_eq!(
        (held.status, held.reason.as_str()),
        (ConditionStatus::True, "NoDrift")
    );
    assert_eq!(
        held.message,
        format!("{} (stale since 12:03:34Z: IMDS unreachable)", ok.message)
    );
    assert_eq!(hold.deadline(), Some(t0 + secs(330)));
    let later = hold.apply(fresh.clone(), o.as_deref(), t0 + secs(329), at(329))?;
    assert_eq!(later, held, "the same words: no status write per cycle");

    let expired = hold.apply(fresh.clone(), o.as_deref(), t0 + secs(330), at(330))?;
    assert_eq!(expired, fresh, "Unknown after the bound");
    assert_eq!(hold.deadline(), None);
    let still = hold.apply(fresh.clone(), o.as_deref(), t0 + secs(400), at(400))?;
    assert_eq!(still.status, ConditionStatus::Unknown);

    let back = hold.apply(ok.clone(), None, t0 + secs(410), at(410))?;
    assert_eq!(back, ok);
    // A new outage starts a new bound.
    let again = hold.apply(fresh, o.as_deref(), t0 + secs(420), at(420))?;
    assert_eq!(again.status, ConditionStatus::True);
    assert!(
        again.message.contains("stale since 12:10:04Z"),
        "{}",
        again.message
    );
    Ok(())
}

#[test]
fn drift_is_held_too() -> Result<(), ConditionError> {
    let t0 = Instant::now();
    let mut hold = Hold::new(secs(300));
    let drift = Verdict {
        status: ConditionStatus::False,
        reason: "PodRouteMissing".into(),
        message: "1 drift finding: PodRouteMissing x1".into(),
    };
    hold.apply(drift.clone(), None, t0, at(0))?;
    let down = imds_down();
    let held = hold.apply(judge(&down), outage(&down).as_deref(), t0, at(0))?;
    assert_eq!(
        (held.status, held.reason.as_str()),
        (ConditionStatus::False, "PodRouteMissing")
    );
    Ok(())
}

#[test]
fn unknown_at_once_at_start_up_without_an_outage_or_without_a_bound() -> Result<(), ConditionError>
{
    let t0 = Instant::now();
    let down = imds_down();
    let (fresh, o) = (judge(&down), outage(&down));
    let mut start = Hold::new(secs(300));
    let v = start.apply(fresh.clone(), o.as_deref(), t0, at(0))?;
    assert_eq!(v.status, ConditionStatus::Unknown, "nothing judged yet");
    assert_eq!(start.deadline(), None);

    let ok = judge(&fixture::healthy_witnessed());
    let mut hold = Hold::new(secs(300));
    hold.apply(ok.clone(), None, t0, at(0))?;
    let inconclusive = hold.apply(fresh.clone(), None, t0, at(0))?;
    assert_eq!(
        inconclusive.status,
        ConditionStatus::Unknown,
        "no source down"
    );
    let v = hold.apply(fresh.clone(), o.as_deref(), t0, at(0))?;
    assert_eq!(
        v.status,
        ConditionStatus::Unknown,
        "the last verdict was Unknown"
    );

    let mut off = Hold::new(Duration::ZERO);
    off.apply(ok, None, t0, at(0))?;
    let v = off.apply(fresh, o.as_deref(), t0, at(0))?;
    assert_eq!(v.status, ConditionStatus::Unknown, "0: at once");
    Ok(())
}
