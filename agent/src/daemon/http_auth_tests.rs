use super::*;

fn key(n: usize) -> [u8; 32] {
    DecisionCache::key(&format!("token-{n}"))
}

#[test]
fn the_cache_is_keyed_by_a_hash_not_the_token() {
    let k = DecisionCache::key("secret-token");
    assert_eq!(k, DecisionCache::key("secret-token"));
    assert_ne!(k, DecisionCache::key("secret-tokeN"));
    assert!(!k.windows(6).any(|w| w == b"secret"));
}

#[test]
fn allowed_is_remembered_five_minutes_and_denied_thirty_seconds() {
    let t0 = Instant::now();
    let mut cache = DecisionCache::default();
    cache.put(key(1), Decision::Allowed, t0);
    cache.put(key(2), Decision::Forbidden("no".into()), t0);
    cache.put(key(3), Decision::Unauthenticated("no".into()), t0);
    cache.put(key(4), Decision::Unavailable("down".into()), t0);
    assert_eq!(
        cache.len(),
        3,
        "an API server that cannot answer is not cached"
    );
    let at = |s: u64| t0 + Duration::from_secs(s);
    assert_eq!(cache.get(&key(1), at(299)), Some(Decision::Allowed));
    assert_eq!(cache.get(&key(1), at(300)), None);
    assert!(cache.get(&key(2), at(29)).is_some());
    assert_eq!(cache.get(&key(2), at(30)), None);
    assert_eq!(cache.get(&key(3), at(30)), None);
    assert_eq!(cache.get(&key(4), at(0)), None);
}

#[test]
fn the_cache_holds_at_most_64_tokens_and_drops_the_soonest_to_expire() {
    let t0 = Instant::now();
    let mut cache = DecisionCache::default();
    cache.put(key(0), Decision::Allowed, t0);
    for n in 1..200 {
        cache.put(
            key(n),
            Decision::Forbidden("no".into()),
            t0 + Duration::from_millis(n as u64),
        );
        assert!(cache.len() <= CACHE_ENTRIES);
    }
    assert_eq!(cache.len(), CACHE_ENTRIES);
    assert_eq!(
        cache.get(&key(0), t0),
        Some(Decision::Allowed),
        "a flood of bad tokens keeps the allowed one"
    );
    assert!(cache.get(&key(199), t0).is_some());
    assert!(cache.get(&key(1), t0).is_none());
    // Expired entries go first.
    let later = t0 + Duration::from_secs(60);
    cache.put(key(500), Decision::Allowed, later);
    assert_eq!(cache.len(), 2);
}

#[test]
fn decisions_map_to_statuses_with_one_line_bodies() {
    assert!(Decision::Allowed.refusal().is_none());
    let cases = [
        (Decision::Unauthenticated("no\ntoken".into()), 401),
        (Decision::Forbidden("x may not".into()), 403),
        (Decision::Unavailable("down".into()), 503),
    ];
    for (decision, status) in cases {
        let r = decision.refusal().unwrap();
        assert_eq!(r.status().as_u16(), status);
        let challenge = r.headers().get(header::WWW_AUTHENTICATE);
        assert_eq!(challenge.is_some(), status == 401, "{status}");
        if let Some(c) = challenge {
            assert_eq!(c, "Bearer");
        }
    }
}

#[tokio::test]
async fn bodies_are_one_line() {
    let r = Decision::Unauthenticated("no\ntoken".into())
        .refusal()
        .unwrap();
    let body = axum::body::to_bytes(r.into_body(), 1024).await.unwrap();
    assert_eq!(&body[..], b"no token\n");
}

#[test]
fn bearer_tokens_are_read_from_the_authorization_header() {
    let mut h = HeaderMap::new();
    assert_eq!(bearer(&h), None);
    for (value, want) in [
        ("Bearer abc", Some("abc")),
        ("bearer  abc ", Some("abc")),
        ("Basic abc", None),
        ("Bearer ", None),
        ("Bearer", None),
    ] {
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        assert_eq!(bearer(&h), want, "{value}");
    }
}

#[tokio::test]
async fn uncached_tokens_are_reviewed_within_a_budget() {
    // Nothing listens on port 1: every review fails at once and is not
    // cached, so each new token would cost the API server a request.
    let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let authorizer = Authorizer::new(client, RequestCounts::new());
    let mut decisions = Vec::new();
    for n in 0..=REVIEW_BURST {
        let mut headers = HeaderMap::new();
        let value = format!("Bearer made-up-{n}");
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        decisions.push(authorizer.decide(&headers).await);
    }
    let unavailable = decisions
        .iter()
        .filter(|d| matches!(d, Decision::Unavailable(_)))
        .count();
    assert_eq!(unavailable, REVIEW_BURST as usize, "{decisions:?}");
    assert_eq!(decisions.last(), Some(&Decision::Throttled));
    let refused = Decision::Throttled.refusal().unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "10");
}

#[test]
fn an_allowed_token_outlives_its_decision_and_refusals_are_evicted_first() {
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut cache = DecisionCache::default();
    cache.put(key(0), Decision::Allowed, t0);
    // Long after its decision expired, the token is still known as allowed.
    assert_eq!(cache.get(&key(0), at(600)), None);
    assert!(cache.was_allowed(&key(0)));
    // Refusals fill the cache; the expired ones make room, the allowance stays.
    for n in 1..CACHE_ENTRIES {
        cache.put(key(n), Decision::Forbidden("no".into()), at(600));
    }
    cache.put(key(1000), Decision::Forbidden("no".into()), at(700));
    assert!(cache.was_allowed(&key(0)));
    assert!(!cache.was_allowed(&key(1)));
}
