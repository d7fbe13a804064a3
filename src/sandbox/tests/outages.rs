//! Outages: refused connections, open connections cut, nothing applied meanwhile,
//! and service again afterwards on the same address.

use std::io::{Read, Write};
use std::time::Duration;

use super::*;
use crate::sandbox::Outage;

/// Wait until the sandbox has begun `n` outages and is serving again.
async fn outages_over(sb: &Sandbox, n: u64) {
    assert!(
        eventually(|| sb.stats().outages == n && !sb.refusing()).await,
        "{:?}",
        sb.stats()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_refuses_connections_then_ends_on_the_same_address() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    assert_eq!(
        send(&c, &sb, &sb.endpoint(), 1).await.unwrap().status(),
        200
    );
    // Begun from a thread outside the runtime, as a test driving a child would.
    std::thread::scope(|t| {
        t.spawn(|| sb.outage(Duration::from_secs(3)));
    });
    assert!(eventually(|| sb.refusing()).await);
    let refused = tokio::net::TcpStream::connect(sb.addr).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    let failed = send(&c, &sb, &sb.endpoint(), 2).await.unwrap_err();
    assert!(failed.is_connect(), "{failed:?}");
    outages_over(&sb, 1).await;
    assert_eq!(
        send(&c, &sb, &sb.endpoint(), 3).await.unwrap().status(),
        200
    );
    let s = sb.stats();
    assert_eq!((s.requests, s.accepted), (2, 2), "{s:?}");
    let times: Vec<i64> = sb.clicks().iter().map(|c| c.click_time % 10).collect();
    assert_eq!(times, [1, 3]);
}

#[tokio::test]
async fn planned_outages_begin_and_end_on_their_own() {
    let planned = [(1, 1), (3, 1)].map(|(start, len)| Outage {
        start: Duration::from_secs(start),
        len: Duration::from_secs(len),
    });
    let sb = start(SandboxConfig {
        outages: planned.to_vec(),
        ..SandboxConfig::default()
    })
    .await;
    outages_over(&sb, 2).await;
    assert_eq!(
        send(&client(), &sb, &sb.endpoint(), 1)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(sb.stats().accepted, 1);
}

#[tokio::test]
async fn a_request_caught_by_an_outage_is_cut_and_not_applied() {
    let sb = start(SandboxConfig {
        latency: Duration::from_secs(2),
        ..SandboxConfig::default()
    })
    .await;
    let caught = {
        let (c, url, form, token) = (
            client(),
            sb.endpoint(),
            lead(&sb, 1),
            sb.token().to_string(),
        );
        tokio::spawn(async move { c.post(&url).bearer_auth(token).form(&form).send().await })
    };
    // The request is in the handler, waiting out its latency, when the outage begins.
    assert!(eventually(|| sb.stats().requests == 1).await);
    sb.outage(Duration::from_secs(1));
    let err = caught.await.unwrap().unwrap_err();
    assert!(!err.is_status(), "{err:?}");
    outages_over(&sb, 1).await;
    let s = sb.stats();
    assert_eq!(s.accepted, 0, "{s:?}");
    assert_eq!(s.connections_cut + s.outage_cut, 1, "{s:?}");
    assert!(sb.clicks().is_empty());
    // And it was only the outage.
    assert_eq!(
        send(&client(), &sb, &sb.endpoint(), 2)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(sb.stats().accepted, 1);
}

/// One set-click request as HTTP/1.1 on a kept-alive connection.
fn raw_request(sb: &Sandbox, n: i64) -> Vec<u8> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(lead(sb, n))
        .finish();
    format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        crate::sandbox::SET_CLICK_PATH,
        sb.addr,
        sb.token(),
        body.len()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_open_when_an_outage_begins_is_closed_and_its_next_request_lost() {
    let sb = start(SandboxConfig::default()).await;
    let (first, second) = (raw_request(&sb, 1), raw_request(&sb, 2));
    let addr = sb.addr;
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    conn.write_all(&first).unwrap();
    let mut buf = [0u8; 4096];
    let n = conn.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    sb.outage(Duration::from_secs(2));
    assert!(
        eventually(|| sb.stats().connections_cut == 1).await,
        "{:?}",
        sb.stats()
    );
    // The kept-alive connection is gone: the next request on it gets no answer.
    let answer = tokio::task::spawn_blocking(move || {
        let _ = conn.write_all(&second);
        let mut got = Vec::new();
        let _ = conn.read_to_end(&mut got);
        got
    })
    .await
    .unwrap();
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    outages_over(&sb, 1).await;
    assert_eq!(sb.stats().accepted, 1);
    assert_eq!(sb.clicks()[0].click_time % 10, 1);
}
