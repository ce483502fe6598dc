//! What the ipamd client makes of answers ipamd never sends, and of no
//! answer at all: bounded bodies, and errors phrased for an operator.

use super::*;
use eniwatch_lab::test_servers::{answering, answering_huge, closed_port, serve};

#[tokio::test]
async fn an_answer_over_the_limit_is_refused_with_or_without_a_length() {
    for chunked in [false, true] {
        let c = IpamdClient::new(
            &serve(answering_huge(MAX_BODY + 1, chunked)).await,
            DEFAULT_TIMEOUT,
        )
        .expect("client");
        let e = c.get(ENIS_PATH).await.expect_err("too large");
        assert_eq!(
            e.to_string(),
            "ipamd /v1/enis: answered more than 4 MiB: not an ipamd introspection answer",
            "chunked: {chunked}"
        );
        assert_eq!(e.kind(), "invalid");
    }
}

#[tokio::test]
async fn an_answer_at_the_limit_is_read() {
    let c = IpamdClient::new(
        &serve(answering_huge(MAX_BODY, true)).await,
        DEFAULT_TIMEOUT,
    )
    .expect("client");
    let body = c.get(ENIS_PATH).await.expect("read").expect("200");
    assert_eq!(body.len(), MAX_BODY);
}

#[tokio::test]
async fn a_closed_port_says_connection_refused_and_where() {
    let base = closed_port().await;
    let c = IpamdClient::new(&base, DEFAULT_TIMEOUT).expect("client");
    let e = c.get(ENIS_PATH).await.expect_err("refused");
    let text = e.to_string();
    assert_eq!(e.kind(), "unreachable", "{text}");
    assert!(
        text.starts_with(&format!(
            "ipamd {base}/v1/enis: cannot connect: connection refused ("
        )),
        "{text}"
    );
    assert!(
        !text.contains('{') && !text.contains("error sending"),
        "{text}"
    );
}

#[tokio::test]
async fn a_503_says_what_ipamd_answered() {
    let c =
        IpamdClient::new(&serve(answering(503, "busy")).await, DEFAULT_TIMEOUT).expect("client");
    let e = c.get(ENIS_PATH).await.expect_err("503");
    assert_eq!(e.to_string(), "ipamd /v1/enis: answered HTTP 503");
}
