//! The pipeline benchmark (bench/pipeline.sh): two measurements, each against a baseline in
//! the same process and run.
//!
//! 1. Baton's own cost per subtask: a plan of N independent one-file subtasks, run whole by
//!    `baton_pipeline::start` against an instant scripted server (no gates, an approving
//!    reviewer), minus the model time the ledger recorded, per subtask; against the same N
//!    replies dispatched and applied with `baton_ops::dispatch` alone (no git, no scheduler,
//!    no events), per dispatch.
//! 2. Three independent subtasks whose replies each take `--service-ms`, on two endpoints (one
//!    slot each), against the same plan run one subtask at a time (`run.parallel = 1`).
//! 3. Publishing's cost: the run of 1. with every event published to a webhook on loopback
//!    (the outbox, the publisher beside the run, one POST per event, all delivered before
//!    the run returns), against the same run publishing nowhere.
//!
//! `cargo run --release -p baton-pipeline --example pipeline_bench -- [--subtasks N]
//! [--rounds R] [--service-ms MS]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::path::Path;
use std::time::Instant;

use baton_config::EnvSnapshot;
use baton_ops::apply::ApplyTarget;
use baton_ops::dispatch::{DispatchRequest, dispatch};
use baton_ops::notice::Silent;
use baton_ops::{NullSink, Project, ProjectOptions};
use baton_pipeline::{Quiet, RunRequest};
use baton_test_support::{Reply, Script, ScriptedServer};

struct Args {
    subtasks: usize,
    rounds: usize,
    service_ms: u64,
}

fn args() -> Args {
    let mut args = Args {
        subtasks: 10,
        rounds: 5,
        service_ms: 500,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or("");
        match pair[0].as_str() {
            "--subtasks" => args.subtasks = value.parse().expect("--subtasks N"),
            "--rounds" => args.rounds = value.parse().expect("--rounds R"),
            "--service-ms" => args.service_ms = value.parse().expect("--service-ms MS"),
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn whole(path: &str) -> Reply {
    Reply::text(format!("{path}\n```python\nVALUE = {}\n```\n", path.len()))
}

fn approve() -> Reply {
    Reply::text(r#"{"approved": true, "findings": [], "required_fixes": []}"#)
}

fn plan(n: usize) -> String {
    let subtasks: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({"id": format!("s{i}"), "title": format!("s{i}"),
                "what": format!("Write m{i}.py."), "files": [format!("m{i}.py")]})
        })
        .collect();
    serde_json::json!({"summary": "bench", "subtasks": subtasks}).to_string()
}

async fn repo(dir: &Path, urls: &[String], parallel: u32) -> Project {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("README.md"), "bench\n").unwrap();
    std::fs::write(
        dir.join("baton.toml"),
        format!(
            "[backends.local]\nurls = {urls:?}\nslots = 1\nretries = 0\n\n[profiles.code]\nmodel = \"scripted\"\nfallback = []\n\n[run]\nparallel = {parallel}\n"
        ),
    )
    .unwrap();
    let git = |args: &'static [&'static str]| baton_pipeline::git::git(dir, args);
    git(&["init", "--quiet", "-b", "main"]).await.unwrap();
    git(&["add", "README.md"]).await.unwrap();
    git(&[
        "-c",
        "user.name=b",
        "-c",
        "user.email=b@localhost",
        "commit",
        "--quiet",
        "-m",
        "start",
    ])
    .await
    .unwrap();
    Project::new(ProjectOptions {
        cwd: dir.to_path_buf(),
        env: EnvSnapshot::from_pairs(std::iter::empty(), Some(dir.join("home"))),
        overrides: Vec::new(),
        supervisor: None,
    })
}

/// Runs the plan of `n` subtasks, publishing to `publish` (`webhook=URL`) if given; wall ms
/// and the model ms its ledger recorded.
async fn pipeline_run(
    dir: &Path,
    urls: &[String],
    n: usize,
    parallel: u32,
    publish: Option<&str>,
) -> (f64, f64) {
    let project = repo(dir, urls, parallel).await;
    let plan_path = dir.with_extension("plan.json");
    std::fs::write(&plan_path, plan(n)).unwrap();
    let ticket = dir.with_extension("md");
    std::fs::write(&ticket, "---\nid: B-1\ntitle: bench\n---\n\nbench\n").unwrap();
    let started = Instant::now();
    let summary = baton_pipeline::start(
        &project,
        &RunRequest {
            ticket,
            plan: Some(plan_path),
            publish: baton_pipeline::publish::PublishAsk {
                targets: publish.map(|target| vec![target.to_string()]),
                ..Default::default()
            },
            ..RunRequest::default()
        },
        &Quiet,
    )
    .await
    .unwrap();
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    let run = summary.run.unwrap();
    assert_eq!(
        run.status,
        baton_core::run::RunStatus::Approved,
        "{:?}\n{}",
        run.why,
        std::fs::read_to_string(Path::new(summary.folder.as_deref().unwrap()).join("events.jsonl"))
            .unwrap_or_default()
    );
    assert_eq!(summary.commits.len(), n);
    let model: u64 = project
        .store()
        .unwrap()
        .run_usage(&run.id)
        .unwrap()
        .iter()
        .map(|row| row.latency_ms)
        .sum();
    (wall, model as f64)
}

/// `n` dispatches with apply into a plain directory: the baseline.
async fn bare_dispatches(dir: &Path, url: &str, n: usize) -> f64 {
    let project = repo(dir, &[url.to_string()], 1).await;
    let started = Instant::now();
    for i in 0..n {
        let request = DispatchRequest {
            task: format!("Subtask s{i}: write m{i}.py"),
            profile: Some("code".into()),
            apply: Some(ApplyTarget {
                allow: vec![format!("m{i}.py")],
                ..ApplyTarget::default()
            }),
            ..DispatchRequest::default()
        };
        let response = dispatch(&project, request, &mut NullSink, &Silent)
            .await
            .unwrap();
        assert!(
            response.apply.as_ref().is_some_and(|a| a.written),
            "{:?}",
            response.reply
        );
    }
    started.elapsed().as_secs_f64() * 1000.0
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let dir = tempfile::tempdir().unwrap();
    let n = args.subtasks;

    // 1. Overhead per subtask: one reply per subtask for each pipeline round and each bare
    // round.
    let mut script = Script::new().default(approve());
    // Rounds of 1., then the published and unpublished runs of 3.
    for _ in 0..4 * args.rounds {
        for i in 0..n {
            script = script.when(format!("Subtask s{i}:"), whole(&format!("m{i}.py")));
        }
    }
    let server = ScriptedServer::start(script.record_requests(false))
        .await
        .unwrap();
    let url = server.openai_url();
    let (mut per_subtask, mut per_dispatch) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let (wall, model) = pipeline_run(
            &dir.path().join(format!("run{round}")),
            std::slice::from_ref(&url),
            n,
            1,
            None,
        )
        .await;
        per_subtask.push((wall - model) / n as f64);
        let bare = bare_dispatches(&dir.path().join(format!("bare{round}")), &url, n).await;
        per_dispatch.push(bare / n as f64);
    }
    let overhead = median(&mut per_subtask);
    let baseline = median(&mut per_dispatch);
    println!(
        "overhead per subtask: {overhead:.2} ms (run wall minus the ledger's model time, {n} subtasks, median of {} rounds)",
        args.rounds
    );
    println!("baseline: dispatch + apply alone: {baseline:.2} ms per dispatch");
    println!("ratio pipeline/bare dispatch: {:.2}x", overhead / baseline);

    // 3. The same runs, published to a webhook, against publishing nowhere.
    let receiver = baton_test_support::WebhookReceiver::start(0).unwrap();
    let target = format!("webhook={}", receiver.url());
    let (mut published, mut quiet) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let (wall, _) = pipeline_run(
            &dir.path().join(format!("pub{round}")),
            std::slice::from_ref(&url),
            n,
            1,
            Some(&target),
        )
        .await;
        published.push(wall);
        let (wall, _) = pipeline_run(
            &dir.path().join(format!("quiet{round}")),
            std::slice::from_ref(&url),
            n,
            1,
            None,
        )
        .await;
        quiet.push(wall);
    }
    let events = receiver.received().len() / args.rounds;
    let published = median(&mut published);
    let quiet = median(&mut quiet);
    println!(
        "a run of {n} subtasks publishing its {events} events to a webhook: {published:.0} ms; publishing nowhere: {quiet:.0} ms"
    );
    println!(
        "ratio published/unpublished: {:.2}x ({:.2} ms per event)",
        published / quiet,
        (published - quiet) / events.max(1) as f64
    );
    server.shutdown().await.unwrap();

    // 2. Three independent subtasks on two endpoints against one at a time.
    let slow = |i: usize| Reply::delayed(args.service_ms, whole(&format!("m{i}.py")));
    let mut scripts = [
        Script::new().default(approve()),
        Script::new().default(approve()),
    ];
    for script in &mut scripts {
        // Each endpoint may serve every subtask of every round (the pool picks).
        for _ in 0..(2 * args.rounds) {
            for i in 0..3 {
                *script = script.clone().when(format!("Subtask s{i}:"), slow(i));
            }
        }
    }
    let one = ScriptedServer::start(scripts[0].clone()).await.unwrap();
    let two = ScriptedServer::start(scripts[1].clone()).await.unwrap();
    let urls = [one.openai_url(), two.openai_url()];
    let (mut parallel, mut serial) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        parallel.push(
            pipeline_run(&dir.path().join(format!("par{round}")), &urls, 3, 0, None)
                .await
                .0,
        );
        serial.push(
            pipeline_run(&dir.path().join(format!("ser{round}")), &urls, 3, 1, None)
                .await
                .0,
        );
    }
    let parallel = median(&mut parallel);
    let serial = median(&mut serial);
    println!(
        "three subtasks of {} ms on two endpoints: {parallel:.0} ms in parallel, {serial:.0} ms one at a time",
        args.service_ms
    );
    println!(
        "ratio parallel/one at a time: {:.2}x (two endpoints: ideal 0.67x)",
        parallel / serial
    );
    one.shutdown().await.unwrap();
    two.shutdown().await.unwrap();
}
