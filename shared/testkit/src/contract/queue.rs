//! The `JobQueue` cases.

use std::collections::BTreeSet;
use std::time::Duration;

use osa_app::ports::Job;

use super::Queue;
use super::fixtures::*;
use super::time_travel::*;

// ---- queue cases -----------------------------------------------------------------

fn unique_job() -> Job {
    Job::TriggerOpal {
        workflow_id: unique_id(),
    }
}

/// Receives and acks everything visible now, so a case starts from a quiet queue.
async fn drain(queue: &Queue) {
    loop {
        let got = queue.receive(100, Duration::from_secs(3600)).await.unwrap();
        if got.is_empty() {
            return;
        }
        for r in got {
            queue.ack(&r.receipt).await.unwrap();
        }
    }
}

pub async fn a_delay_is_honoured(queue: &Queue, time: &TimeTravel) {
    drain(queue).await;
    let job = unique_job();
    let mine = [job.clone()];
    let vis = time.span(Duration::from_secs(60));
    let t0 = time.mark();
    queue
        .enqueue(&job, time.span(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(receive_mine(queue, &mine, 10, vis).await.is_empty());
    time.hidden_until(
        queue,
        &mine,
        vis,
        t0,
        Duration::from_secs(29),
        "not before the delay",
    )
    .await;
    let got = time
        .received_by(queue, &mine, 10, vis, t0, Duration::from_secs(31))
        .await;
    assert_eq!(got.len(), 1, "visible once the delay has passed");
    assert_eq!(got[0].job, job);
    assert_eq!(got[0].receive_count, 1);
    queue.ack(&got[0].receipt).await.unwrap();

    // No delay: visible at once.
    let now_job = unique_job();
    queue.enqueue(&now_job, Duration::ZERO).await.unwrap();
    let got = receive_mine(queue, &[now_job], 10, vis).await;
    assert_eq!(got.len(), 1);
    queue.ack(&got[0].receipt).await.unwrap();
}

pub async fn received_jobs_hide_for_the_visibility_timeout(queue: &Queue, time: &TimeTravel) {
    drain(queue).await;
    let job = unique_job();
    let mine = [job.clone()];
    let vis = time.span(Duration::from_secs(30));
    queue.enqueue(&job, Duration::ZERO).await.unwrap();
    let t1 = time.mark();
    let first = receive_mine(queue, &mine, 10, vis).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    assert!(
        receive_mine(queue, &mine, 10, vis).await.is_empty(),
        "hidden while in flight"
    );
    time.hidden_until(
        queue,
        &mine,
        vis,
        t1,
        Duration::from_secs(29),
        "hidden for the timeout",
    )
    .await;
    let second = time
        .received_by(queue, &mine, 10, vis, t1, Duration::from_secs(31))
        .await;
    assert_eq!(second.len(), 1, "back after the timeout");
    assert_eq!(second[0].job, job);
    assert_eq!(second[0].receive_count, 2);
    assert_ne!(second[0].receipt, first[0].receipt);
    queue.ack(&second[0].receipt).await.unwrap();
}

pub async fn ack_deletes(queue: &Queue, time: &TimeTravel) {
    drain(queue).await;
    let job = unique_job();
    let mine = [job.clone()];
    let case_vis = Duration::from_secs(30);
    let vis = time.span(case_vis);
    queue.enqueue(&job, Duration::ZERO).await.unwrap();
    let t1 = time.mark();
    let got = receive_mine(queue, &mine, 10, vis).await;
    assert_eq!(got.len(), 1);
    queue.ack(&got[0].receipt).await.unwrap();
    queue.ack(&got[0].receipt).await.unwrap();
    time.gone_after(queue, &mine, vis, t1, case_vis + SECOND, "acked means gone")
        .await;
}

pub async fn a_stale_receipt_deletes_nothing(queue: &Queue, time: &TimeTravel) {
    drain(queue).await;
    let job = unique_job();
    let mine = [job.clone()];
    let case_vis = Duration::from_secs(30);
    let vis = time.span(case_vis);
    queue.enqueue(&job, Duration::ZERO).await.unwrap();
    let t1 = time.mark();
    let first = receive_mine(queue, &mine, 10, vis).await;
    assert_eq!(first.len(), 1);
    let second = time
        .received_by(queue, &mine, 10, vis, t1, case_vis + SECOND)
        .await;
    assert_eq!(second.len(), 1);
    let t2 = time.mark();
    // The first receiver finishes late: its receipt no longer counts.
    queue.ack(&first[0].receipt).await.unwrap();
    queue.ack("not-a-receipt").await.unwrap();
    let third = time
        .received_by(queue, &mine, 10, vis, t2, case_vis + SECOND)
        .await;
    assert_eq!(third.len(), 1, "a stale ack must not delete the job");
    assert_eq!(third[0].receive_count, 3);
    let t3 = time.mark();
    queue.ack(&third[0].receipt).await.unwrap();
    time.gone_after(queue, &mine, vis, t3, case_vis + SECOND, "acked means gone")
        .await;
}

pub async fn receive_respects_max_and_visibility_order(queue: &Queue, time: &TimeTravel) {
    drain(queue).await;
    let vis = time.span(Duration::from_secs(60));
    let jobs: Vec<Job> = (0..5).map(|_| unique_job()).collect();
    for job in &jobs {
        queue.enqueue(job, Duration::ZERO).await.unwrap();
    }
    assert!(queue.receive(0, vis).await.unwrap().is_empty());
    let first = receive_mine(queue, &jobs, 2, vis).await;
    assert_eq!(first.len(), 2, "at most max");
    let rest = receive_mine(queue, &jobs, 10, vis).await;
    assert_eq!(rest.len(), 3);
    let seen: BTreeSet<String> = first
        .iter()
        .chain(&rest)
        .map(|r| format!("{:?}", r.job))
        .collect();
    assert_eq!(seen.len(), 5, "each job received once");
    for r in first.iter().chain(&rest) {
        queue.ack(&r.receipt).await.unwrap();
    }

    // The job that became visible first is received first.
    let later = unique_job();
    let sooner = unique_job();
    let both = [later.clone(), sooner.clone()];
    let t0 = time.mark();
    queue
        .enqueue(&later, time.span(Duration::from_secs(20)))
        .await
        .unwrap();
    queue
        .enqueue(&sooner, time.span(Duration::from_secs(10)))
        .await
        .unwrap();
    let all_due = Duration::from_secs(30);
    let one = time.received_by(queue, &both, 1, vis, t0, all_due).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].job, sooner);
    let other = time.received_by(queue, &both, 1, vis, t0, all_due).await;
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].job, later);
    for r in one.iter().chain(&other) {
        queue.ack(&r.receipt).await.unwrap();
    }
}

pub async fn depth_counts_what_waits_now(queue: &Queue, _time: &TimeTravel) {
    drain(queue).await;
    assert_eq!(queue.depth().await.unwrap(), 0);
    let jobs = [unique_job(), unique_job()];
    for job in &jobs {
        queue.enqueue(job, Duration::ZERO).await.unwrap();
    }
    queue
        .enqueue(&unique_job(), Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        queue.depth().await.unwrap(),
        2,
        "a delayed job is not waiting yet"
    );
    let got = receive_mine(queue, &jobs, 10, Duration::from_secs(600)).await;
    assert_eq!(got.len(), 2);
    assert_eq!(
        queue.depth().await.unwrap(),
        0,
        "received jobs are in flight"
    );
}
