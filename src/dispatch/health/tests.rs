//! Outages: when they start, who probes, when sending resumes, when the run gives
//! up (on tokio's paused clock).

use std::sync::Arc;
use std::time::Duration;

use super::*;

#[test]
fn one_leads_failures_are_not_an_outage() {
    let h = Health::new(4, Duration::from_secs(60));
    for _ in 0..10 {
        assert!(!h.failed(7, false, "HTTP 500"), "the same row every time");
    }
    assert!(h.outage().is_none());
}

#[test]
fn every_sender_failing_on_different_leads_is_an_outage() {
    let h = Health::new(3, Duration::from_secs(60));
    assert!(!h.failed(1, false, "HTTP 503"));
    assert!(!h.failed(2, false, "HTTP 503"));
    assert!(h.failed(3, false, "HTTP 503"), "three senders, three leads");
    assert_eq!(h.outage().unwrap().cause, "HTTP 503");
    assert!(h.failed(4, false, "HTTP 503"), "still in the outage");
}

#[test]
fn an_answer_in_between_resets_the_count() {
    let h = Health::new(3, Duration::from_secs(60));
    h.failed(1, false, "x");
    h.failed(2, false, "x");
    assert_eq!(h.answered(true), None, "no outage to end");
    assert!(!h.failed(3, false, "x"));
    assert!(!h.failed(4, false, "x"));
    assert!(h.any_success());
}

#[test]
fn a_refused_connection_is_an_outage_at_once() {
    let h = Health::new(8, Duration::from_secs(60));
    assert!(h.failed(1, true, "connection refused"));
}

#[tokio::test(start_paused = true)]
async fn one_sender_probes_while_the_others_wait_for_the_api() {
    let h = Arc::new(Health::new(2, Duration::from_secs(600)));
    let stop = Stop::default();
    h.failed(1, true, "connection refused");
    let mut prober = None;
    assert_eq!(h.gate(&stop, &mut prober).await, Gate::Go);
    assert!(prober.is_some(), "the first sender probes");
    let waiter = {
        let (h, stop) = (Arc::clone(&h), stop.clone());
        tokio::spawn(async move {
            let mut role = None;
            let gate = h.gate(&stop, &mut role).await;
            (gate, role)
        })
    };
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert!(!waiter.is_finished(), "held while the outage lasts");
    let down = h.answered(true).unwrap();
    assert_eq!(down, Duration::from_secs(100));
    let (gate, role) = waiter.await.unwrap();
    assert_eq!((gate, role), (Gate::Go, None));
}

#[tokio::test(start_paused = true)]
async fn a_released_prober_hands_over_and_a_stop_frees_the_waiters() {
    let h = Arc::new(Health::new(2, Duration::from_secs(600)));
    let stop = Stop::default();
    h.failed(1, true, "refused");
    let mut first = None;
    h.gate(&stop, &mut first).await;
    let second = {
        let (h, stop) = (Arc::clone(&h), stop.clone());
        tokio::spawn(async move {
            let mut role = None;
            (h.gate(&stop, &mut role).await, role)
        })
    };
    tokio::task::yield_now().await;
    h.release(&mut first);
    let (gate, role) = second.await.unwrap();
    assert_eq!(gate, Gate::Go);
    assert!(role.is_some(), "the waiting sender probes now");
    let third = {
        let (h, stop) = (Arc::clone(&h), stop.clone());
        tokio::spawn(async move { h.gate(&stop, &mut None).await })
    };
    tokio::task::yield_now().await;
    stop.interrupt();
    assert_eq!(third.await.unwrap(), Gate::Stopped);
}

#[tokio::test(start_paused = true)]
async fn probes_back_off_to_thirty_seconds_are_announced_and_give_up_at_the_limit() {
    let h = Health::new(1, Duration::from_secs(120));
    h.failed(1, true, "connection refused");
    let mut waits = Vec::new();
    let mut announced = Vec::new();
    loop {
        match h.probe_wait() {
            Probe::Wait { wait, announce } => {
                waits.push(wait.as_secs());
                if let Some(a) = announce {
                    assert_eq!(a.cause, "connection refused");
                    announced.push((tokio::time::Instant::now(), a.retry_every));
                }
                tokio::time::sleep(wait).await;
            }
            Probe::GiveUp(f) => {
                assert_eq!(f.kind, FaultKind::Unreachable);
                assert!(f.message.contains("connection refused"), "{f}");
                break;
            }
        }
    }
    assert_eq!(
        waits,
        [1, 2, 4, 8, 16, 30, 30, 29],
        "capped, then cut to the limit"
    );
    assert_eq!(announced.len(), 1, "once it lasted 5 s, not at every probe");
    assert_eq!(announced[0].1, Duration::from_secs(4));
}

#[tokio::test(start_paused = true)]
async fn timeouts_on_every_sender_stop_the_run_and_an_answer_resets_them() {
    let h = Health::new(3, Duration::from_secs(60));
    let sent = Instant::now();
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(h.timed_out(1, sent, "30 s"), None);
    assert_eq!(h.timed_out(1, sent, "30 s"), None, "one lead twice");
    h.answered(true);
    let sent = Instant::now();
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(h.timed_out(2, sent, "30 s"), None);
    assert_eq!(h.timed_out(3, sent, "30 s"), None);
    let f = h.timed_out(4, sent, "30 s").unwrap();
    assert_eq!(f.kind, FaultKind::TimedOut);
    assert!(f.message.contains("3 requests"), "{f}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_request_that_other_answers_overtook_is_not_the_apis_slowness() {
    let h = Health::new(2, Duration::from_secs(60));
    let sent = Instant::now();
    tokio::time::advance(Duration::from_secs(1)).await;
    h.answered(true);
    tokio::time::advance(Duration::from_secs(29)).await;
    for row in 1..10 {
        assert_eq!(
            h.timed_out(row, sent, "30 s"),
            None,
            "answers came meanwhile"
        );
    }
}
