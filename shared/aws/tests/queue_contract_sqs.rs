//! The queue contract, run against SQS on the local endpoint (see
//! `osa_testkit::aws::endpoint`), plus what only SQS has: the dead-letter queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use osa_app::ports::{Job, JobQueue};
use osa_aws::provision::{MAX_RECEIVE_COUNT, Queues, ensure_queues};
use osa_aws::sqs::SqsQueue;
use osa_testkit::aws::{endpoint, sdk_config, unique_name};
use osa_testkit::contract::{self, TimeTravel};

/// A queue pair of its own, and a short-polling queue adapter on it.
async fn queue(endpoint: &str) -> (SqsQueue, Queues, aws_sdk_sqs::Client) {
    let client = aws_sdk_sqs::Client::new(&sdk_config(endpoint).await);
    let queues = ensure_queues(&client, &unique_name("jobs"))
        .await
        .expect("ensure_queues");
    let queue = SqsQueue::new(client.clone(), queues.url.clone()).with_wait(Duration::ZERO);
    (queue, queues, client)
}

fn job(n: usize) -> Job {
    Job::TriggerOpal {
        workflow_id: format!("wf-{n}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_queue_honours_the_contract() {
    let Some(endpoint) = endpoint("sqs_queue_honours_the_contract") else {
        return;
    };
    let (queue, _, _) = queue(&endpoint).await;
    // 15 case seconds to one real second: the 30 s timeouts take 2 s.
    contract::queue_suite_in(Arc::new(queue), TimeTravel::Real { scale: 15 }).await;
}

/// A job received `MAX_RECEIVE_COUNT` times and never acked moves to the DLQ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_never_acked_lands_in_the_dead_letter_queue() {
    let Some(endpoint) = endpoint("a_job_never_acked_lands_in_the_dead_letter_queue") else {
        return;
    };
    let (queue, queues, client) = queue(&endpoint).await;
    let dlq = SqsQueue::new(client, queues.dlq_url.clone()).with_wait(Duration::ZERO);
    let poison = job(1);
    queue
        .enqueue(&poison, Duration::ZERO)
        .await
        .expect("enqueue");
    let visibility = Duration::from_secs(1);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut receives = 0;
    let moved = loop {
        assert!(
            Instant::now() < deadline,
            "not in the DLQ after {receives} receives"
        );
        let got = queue.receive(10, visibility).await.expect("receive");
        for r in &got {
            assert_eq!(r.job, poison);
            receives += 1;
            assert_eq!(r.receive_count, receives);
            assert!(
                receives <= MAX_RECEIVE_COUNT,
                "received past the redrive policy"
            );
        }
        let in_dlq = dlq.receive(10, Duration::from_secs(30)).await.expect("dlq");
        if !in_dlq.is_empty() {
            break in_dlq;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(receives, MAX_RECEIVE_COUNT);
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].job, poison);
    dlq.ack(&moved[0].receipt).await.expect("ack");
    assert!(
        queue
            .receive(10, visibility)
            .await
            .expect("receive")
            .is_empty()
    );
}

/// More than SQS's ten per call: `receive` asks again until it has `max`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_gathers_more_than_ten() {
    let Some(endpoint) = endpoint("receive_gathers_more_than_ten") else {
        return;
    };
    let (queue, _, _) = queue(&endpoint).await;
    for n in 0..25 {
        queue
            .enqueue(&job(n), Duration::ZERO)
            .await
            .expect("enqueue");
    }
    let got = queue
        .receive(23, Duration::from_secs(60))
        .await
        .expect("receive");
    assert_eq!(got.len(), 23);
    let rest = queue
        .receive(100, Duration::from_secs(60))
        .await
        .expect("receive");
    assert_eq!(rest.len(), 2);
    for r in got.iter().chain(&rest) {
        queue.ack(&r.receipt).await.expect("ack");
    }
}

/// An unreadable message is skipped (and left to the redrive policy), not fatal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_message_does_not_wedge_the_queue() {
    let Some(endpoint) = endpoint("an_unreadable_message_does_not_wedge_the_queue") else {
        return;
    };
    let (queue, queues, client) = queue(&endpoint).await;
    client
        .send_message()
        .queue_url(&queues.url)
        .message_body("not json")
        .send()
        .await
        .expect("send");
    queue
        .enqueue(&job(7), Duration::ZERO)
        .await
        .expect("enqueue");
    let got = queue
        .receive(10, Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].job, job(7));
}

/// The default long poll returns as soon as a job shows up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_returns_when_a_job_arrives() {
    let Some(endpoint) = endpoint("a_long_poll_returns_when_a_job_arrives") else {
        return;
    };
    let (_, queues, client) = queue(&endpoint).await;
    let queue = SqsQueue::new(client, queues.url.clone()).with_wait(Duration::from_secs(20));
    queue
        .enqueue(&job(3), Duration::from_secs(1))
        .await
        .expect("enqueue");
    let started = Instant::now();
    let got = queue
        .receive(10, Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(got.len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
