//! Pool throughput: how close one `Dispatcher` gets to the endpoints' own limit.
//!
//! Two scripted servers each take 50 ms to answer every chat request. One backend, `local`,
//! lists both with `slots = 2`, so at most 4 requests are served at once and the limit is
//! 4 / 50 ms = 80 requests per second. 200 dispatches are launched at once; the pool must
//! queue the rest, hand each freed slot to a waiter, and never put more than 2 requests on
//! one server. Prints requests, wall, throughput, limit, ratio, and the most requests each
//! server saw at once.
//!
//! In the same run, a direct baseline sends the same number of requests from one fixed worker
//! per slot with the same client code and no pool: what this server, runtime and HTTP client
//! allow at best (tokio's 1 ms timer rounds each 50 ms sleep up, loopback HTTP adds the rest).
//! `pool/direct` is then the pool's own cost, apart from what any client would pay.
//!
//!   cargo run --release -p baton-llm --example pool_throughput [-- --current-thread] [-- --requests N]
//!
//! Runtime: multi-thread by default, with as many workers as cores. That is how a long-lived
//! Baton process (proxy, dashboard, `baton run`) drives many dispatches, and it makes the pool's
//! lock and wake-ups cross threads, the harder case. The scripted servers share that runtime,
//! as a local model server shares the machine. `--current-thread` runs everything on one
//! thread, as the `baton` CLI does, for comparison.

use std::error::Error;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_config::{BackendSettings, ProfileSettings, Settings};
use baton_core::Route;
use baton_llm::client::{CallTarget, StreamFailure, http_client, stream_chat};
use baton_llm::dispatch::{DispatchInput, NullSink, chat_request};
use baton_llm::{Dispatcher, router};
use baton_test_support::{Reply, Script, ScriptedServer};

const SERVICE_MS: u64 = 50;
const SLOTS: u32 = 2;
const SERVERS: usize = 2;
const DEFAULT_REQUESTS: usize = 200;
const GOAL: f64 = 0.95;

type BoxError = Box<dyn Error + Send + Sync>;

struct Options {
    current_thread: bool,
    requests: usize,
}

fn options() -> Result<Options, BoxError> {
    let mut options = Options {
        current_thread: false,
        requests: DEFAULT_REQUESTS,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--current-thread" => options.current_thread = true,
            "--requests" => {
                let value = args.next().ok_or("--requests needs a number")?;
                options.requests = value.parse()?;
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(options)
}

fn main() -> Result<(), Box<dyn Error>> {
    let options = options().map_err(|error| error.to_string())?;
    let runtime = if options.current_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    runtime
        .block_on(run(&options))
        .map_err(|error| error.to_string().into())
}

async fn start_servers() -> Result<Vec<ScriptedServer>, BoxError> {
    let mut servers = Vec::with_capacity(SERVERS);
    for _ in 0..SERVERS {
        let script = Script::new()
            .default(Reply::delayed(SERVICE_MS, Reply::text("ok")))
            .record_requests(false);
        servers.push(ScriptedServer::start(script).await?);
    }
    Ok(servers)
}

/// One backend `local` over these servers, and a profile `bench` that uses it alone.
fn settings(servers: &[ScriptedServer]) -> Settings {
    let mut settings = Settings::default();
    settings.backends.insert(
        "local".into(),
        BackendSettings {
            urls: servers.iter().map(ScriptedServer::openai_url).collect(),
            slots: SLOTS,
            ..BackendSettings::default()
        },
    );
    settings.profiles.insert(
        "bench".into(),
        ProfileSettings {
            backend: "local".into(),
            model: "scripted".into(),
            ..ProfileSettings::default()
        },
    );
    settings
}

fn input(index: usize) -> DispatchInput {
    DispatchInput {
        request_id: format!("bench-{index}"),
        user: "Write a function that adds two integers".into(),
        system_override: None,
        answer_format: None,
        answer_schema: None,
    }
}

async fn run(options: &Options) -> Result<(), BoxError> {
    let direct = run_direct(options.requests).await?;
    let pool = run_pool(options.requests).await?;

    let concurrency = SERVERS as f64 * f64::from(SLOTS);
    let limit = concurrency / Duration::from_millis(SERVICE_MS).as_secs_f64();
    let throughput = pool.answered as f64 / pool.wall.as_secs_f64();
    let direct_throughput = options.requests as f64 / direct.as_secs_f64();
    let ratio = throughput / limit;
    let (load1, load5, load15) = load_average();

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "pool throughput: {} runtime, {SERVERS} servers x {SLOTS} slots, {SERVICE_MS} ms service time; load avg {load1} {load5} {load15}",
        if options.current_thread {
            "current-thread".to_string()
        } else {
            format!(
                "multi-thread ({} workers)",
                std::thread::available_parallelism().map_or(1, usize::from)
            )
        }
    )?;
    writeln!(
        out,
        "requests:     {} ({} attempts), all launched at once",
        pool.answered, pool.attempts
    )?;
    writeln!(out, "wall:         {:.3} s", pool.wall.as_secs_f64())?;
    writeln!(out, "throughput:   {throughput:.2} req/s")?;
    writeln!(
        out,
        "limit:        {limit:.2} req/s ({concurrency} concurrent / {SERVICE_MS} ms)"
    )?;
    writeln!(
        out,
        "ratio:        {:.1}% of the limit (goal: >= {:.0}%: {})",
        ratio * 100.0,
        GOAL * 100.0,
        if ratio >= GOAL { "met" } else { "MISSED" }
    )?;
    for (index, (peak, count)) in pool.peaks.iter().zip(&pool.served).enumerate() {
        writeln!(
            out,
            "server {index}:     max_in_flight {peak} (limit {SLOTS}), {count} requests"
        )?;
    }
    writeln!(
        out,
        "direct:       {:.3} s, {direct_throughput:.2} req/s = {:.1}% of the limit ({} fixed workers, one per slot, same client code, no pool)",
        direct.as_secs_f64(),
        direct_throughput / limit * 100.0,
        concurrency
    )?;
    writeln!(
        out,
        "pool/direct:  {:.3}x throughput",
        throughput / direct_throughput
    )?;
    drop(out);

    if pool.answered != options.requests {
        return Err(format!(
            "{} of {} dispatches answered",
            pool.answered, options.requests
        )
        .into());
    }
    if let Some(peak) = pool.peaks.iter().find(|&&peak| peak > SLOTS as usize) {
        return Err(format!("a server saw {peak} requests at once, over slots = {SLOTS}").into());
    }
    Ok(())
}

struct PoolRun {
    wall: Duration,
    answered: usize,
    attempts: usize,
    peaks: Vec<usize>,
    served: Vec<usize>,
}

/// All `requests` dispatches launched at once through one `Dispatcher`.
async fn run_pool(requests: usize) -> Result<PoolRun, BoxError> {
    let servers = start_servers().await?;
    let settings = Arc::new(settings(&servers));
    let plan = Arc::new(router::plan(&settings, "bench", Route::Local, None)?);
    let dispatcher = Arc::new(Dispatcher::new(Arc::clone(&settings)));
    // Build the pool and its HTTP client before the clock starts: set-up, not throughput.
    let first = plan.chain.first().ok_or("the plan has no step")?;
    dispatcher.pool(first)?;

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..requests {
        let dispatcher = Arc::clone(&dispatcher);
        let plan = Arc::clone(&plan);
        tasks.spawn(async move {
            dispatcher
                .dispatch(&plan, &input(index), &mut NullSink)
                .await
                .map(|result| (result.reply, result.attempts.len()))
                .map_err(|failure| failure.error.to_string())
        });
    }
    let mut answered = 0_usize;
    let mut attempts = 0_usize;
    while let Some(joined) = tasks.join_next().await {
        let (reply, tries) = joined??;
        if reply != "ok" {
            return Err(format!("unexpected reply {reply:?}").into());
        }
        answered += 1;
        attempts += tries;
    }
    let wall = started.elapsed();
    let run = PoolRun {
        wall,
        answered,
        attempts,
        peaks: servers.iter().map(ScriptedServer::max_in_flight).collect(),
        served: servers.iter().map(ScriptedServer::request_count).collect(),
    };
    for server in servers {
        server.shutdown().await?;
    }
    Ok(run)
}

/// The in-run baseline: one worker per slot, each bound to its server, sending its share of
/// `requests` one after another with the same client code (`stream_chat`) and no pool. What
/// this server, runtime and HTTP client allow at best, timer rounding and HTTP included.
async fn run_direct(requests: usize) -> Result<Duration, BoxError> {
    let servers = start_servers().await?;
    let settings = settings(&servers);
    let plan = router::plan(&settings, "bench", Route::Local, None)?;
    let target = plan.chain.first().ok_or("the plan has no step")?.clone();
    let http = http_client(&target.backend)?;
    let workers = SERVERS * SLOTS as usize;

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let http = http.clone();
        let target = target.clone();
        let base_url = servers[worker % SERVERS].openai_url();
        let share = requests / workers + usize::from(worker < requests % workers);
        tasks.spawn(async move {
            for index in 0..share {
                let request = chat_request(&target, &input(index));
                let call = CallTarget {
                    backend_name: &target.backend_name,
                    backend: &target.backend,
                    base_url: &base_url,
                    api_key: None,
                    cut_repetition: target.repetition.cut,
                };
                let completion = stream_chat(&http, &call, &request, &mut |_| Ok(()))
                    .await
                    .map_err(|failure| match failure {
                        StreamFailure::Call { error, .. } => error.to_string(),
                        StreamFailure::Sink(error) => error.to_string(),
                    })?;
                if completion.text != "ok" {
                    return Err(format!("unexpected reply {:?}", completion.text));
                }
            }
            Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    let wall = started.elapsed();
    for server in servers {
        server.shutdown().await?;
    }
    Ok(wall)
}

/// The 1, 5 and 15 minute load averages from /proc/loadavg ("?" where unreadable).
fn load_average() -> (String, String, String) {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut fields = text.split_whitespace().map(str::to_string);
    let mut next = || fields.next().unwrap_or_else(|| "?".into());
    (next(), next(), next())
}
