//! What `baton_exec::run` costs over std: `run` of `true` against
//! `std::process::Command::new("true").status()` (no pipes, stdio inherited) and `.output()`
//! (both streams piped and read, as `run` does), alternating call by call in one process, so
//! that load moves all three alike. Prints the median and p90 wall time per call and the ratios
//! of `run` to each baseline. `run` also builds the allow-listed environment, listens for
//! SIGCHLD, registers the child, reads the pipes through the reactor and checks that the
//! group is empty before it returns.
//!
//!   cargo run --release -p baton-exec --example run_overhead [-- --calls N] [-- --multi-thread]
//!
//! Runtime: current-thread by default, as the `baton` CLI runs; `--multi-thread` for a
//! long-lived process (`baton run`, the MCP server).

#![allow(
    clippy::disallowed_methods,
    reason = "the baselines start `true` with std directly"
)]
#![allow(clippy::print_stdout, reason = "an example that prints its figures")]

use std::error::Error;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use baton_exec::{RunRequest, run};

const DEFAULT_CALLS: usize = 500;
const WARMUP_CALLS: usize = 20;

type BoxError = Box<dyn Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let mut calls = DEFAULT_CALLS;
    let mut multi_thread = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--calls" => calls = args.next().ok_or("--calls needs a number")?.parse()?,
            "--multi-thread" => multi_thread = true,
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(measure(calls, multi_thread))
}

async fn measure(calls: usize, multi_thread: bool) -> Result<(), BoxError> {
    let cwd = std::env::current_dir()?;
    let request = RunRequest::new("true", &cwd);
    let mut with_run = Vec::with_capacity(calls);
    let mut with_status = Vec::with_capacity(calls);
    let mut with_output = Vec::with_capacity(calls);
    for call in 0..WARMUP_CALLS + calls {
        let began = Instant::now();
        let output = run(&request).await?;
        let run_took = began.elapsed();
        if !output.success() {
            return Err(format!("`true` under run: {}", output.exit).into());
        }

        let began = Instant::now();
        let status = Command::new("true").current_dir(&cwd).status()?;
        let status_took = began.elapsed();
        if !status.success() {
            return Err(format!("`true` under std status(): {status}").into());
        }

        let began = Instant::now();
        let output = Command::new("true")
            .current_dir(&cwd)
            .stdin(Stdio::null())
            .output()?;
        let output_took = began.elapsed();
        if !output.status.success() {
            return Err(format!("`true` under std output(): {}", output.status).into());
        }

        if call >= WARMUP_CALLS {
            with_run.push(run_took);
            with_status.push(status_took);
            with_output.push(output_took);
        }
    }
    let runtime = if multi_thread {
        "multi-thread"
    } else {
        "current-thread"
    };
    println!("run_overhead: {calls} calls of `true` each, alternating ({runtime} runtime)");
    let run_median = report("baton_exec::run", &mut with_run);
    let status_median = report("std Command::status()", &mut with_status);
    let output_median = report("std Command::output()", &mut with_output);
    println!(
        "ratio (median): run/status {:.2}x, run/output {:.2}x",
        ratio(run_median, status_median),
        ratio(run_median, output_median)
    );
    Ok(())
}

/// Prints median and p90 of `times`; returns the median.
fn report(what: &str, times: &mut [Duration]) -> Duration {
    times.sort();
    let median = percentile(times, 50);
    let p90 = percentile(times, 90);
    println!(
        "  {what:<24} median {:>7.3} ms   p90 {:>7.3} ms",
        millis(median),
        millis(p90)
    );
    median
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = (sorted.len() * percent / 100).min(sorted.len() - 1);
    sorted[index]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn ratio(numerator: Duration, denominator: Duration) -> f64 {
    numerator.as_secs_f64() / denominator.as_secs_f64().max(f64::MIN_POSITIVE)
}
