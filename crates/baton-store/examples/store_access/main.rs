//! Store access benchmark: which way of giving async tasks a [`Store`] is cheapest for
//! Baton's own access pattern. A `Store` owns a SQLite connection (`Send`, not `Sync`), and
//! long-lived processes (`baton mcp`, `baton run`, a dashboard) call it from many tasks.
//!
//! ```sh
//! cargo run --release -p baton-store --example store_access [-- --ops 3000] [--rounds 10]
//!     [--operations worker,record,memory-get,mixed] [--tasks 1,4,16] [--hold-ms 500]
//!     [--lock-rounds 2] [--seed 42]
//! ```
//!
//! The strategies, each as a task would use it:
//! - `open`: `Store::open` for every call (pragmas, a schema-version read, statements
//!   prepared afresh), then the call, on the task's own runtime thread;
//! - `pool` (the baseline; what `baton-ops` does): `StorePool::get`, then the call on the
//!   task's runtime thread, the connection given back when the guard drops;
//! - `pool+blocking`: the same inside `tokio::task::spawn_blocking`, off the runtime threads;
//! - `actor`: one thread owning one `Store`; tasks send a boxed closure over a bounded tokio
//!   `mpsc` channel and await the answer on a `oneshot`.
//!
//! The operations, as the code makes them: `worker` (`store.worker(id)`, a read by exact id,
//! what `baton status`, `wait` and the MCP worker tools do), `record` (`record_calls` of 1 to 3
//! `CallRecord`s in one `BEGIN IMMEDIATE` transaction, what every dispatch does), `memory-get`
//! (`memory_get`, which counts the access: an `UPDATE ... RETURNING`, so a write), and `mixed`
//! (per call: 2 in 4 `worker`, 1 in 4 `memory-get`, 1 in 4 `record`). One database file in a
//! temp dir (WAL, the store's own pragmas), seeded with 200 workers, 2000 memory entries and
//! 10000 ledger rows. A multi-thread tokio runtime with 2 worker threads (the machine has 2
//! cores); N = 1, 4 and 16 tasks share `--ops` calls per cell, each task yielding between its
//! calls as a real task awaits between store calls. Each cell runs `--rounds` times, the
//! strategies in a rotating order, so that drift in the machine's load hits all of them.
//! Latency is per call, from before `get`/`open`/`send` to the answer in the task's hands
//! (p50, p99, max, the share over 1 ms); throughput is calls per second of all tasks, the
//! median over the rounds (one stall the rest of the machine causes does not decide it); CPU
//! per call is the time every thread of the process ran (`/proc/self/task/*/schedstat`), the
//! figure least moved by other load. Ratios are against `pool` in the same run.
//!
//! Then a writer held up by another process: a child process (this program, `--hold-lock`)
//! takes the write lock (`BEGIN IMMEDIATE`) for `--hold-ms` while tasks run, once with 4 reader
//! tasks (worker lookups) and 1 writer (`record_calls`) and once with 12 readers and 4 writers
//! (more writers than runtime threads), beside a 1 ms timer task standing for
//! the rest of the process (HTTP streams, MCP requests). Reported per strategy: reads served
//! per second before and during the hold, the slowest read and write, and how late the timer
//! ran (a runtime thread stuck in SQLite's busy handler runs no other task).

// A benchmark program: it prints its report; a failed store call ends it.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark program prints its report"
)]

mod held_lock;

#[path = "../support/rng.rs"]
mod rng;
use rng::Rng;

use std::error::Error;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use baton_core::{CallOutcome, CallRecord, Locality, Usage, WorkerRecord, WorkerSpec};
use baton_store::{NewMemory, Store, StoreError, StorePool};
use tokio::sync::{mpsc, oneshot};

type BoxError = Box<dyn Error + Send + Sync>;

/// Runtime worker threads: one per core of the 2-core machine the figures come from.
const RUNTIME_WORKERS: usize = 2;
const WORKERS: usize = 200;
const MEMORY_ENTRIES: usize = 2000;
const SEED_CALLS: usize = 10_000;
const NAMESPACE: &str = "patterns";
/// A fixed clock: memory entries never expire during the run.
const NOW_MS: i64 = 1_800_000_000_000;
/// Requests the actor's channel holds before senders wait.
const ACTOR_QUEUE: usize = 1024;
/// Calls each strategy makes before the measured cells (connections, statement caches).
const WARM_UP_OPS: usize = 400;
/// Tasks run this long before the other process takes the lock; reads in the last
/// [`BEFORE_WINDOW`] of it give the rate before the hold.
const LEAD: Duration = Duration::from_millis(500);
const BEFORE_WINDOW: Duration = Duration::from_millis(400);
/// Tasks keep running this long after the lock is released (the busy handler's last sleep).
const TAIL: Duration = Duration::from_millis(150);
const TICK: Duration = Duration::from_millis(1);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Strategy {
    Open,
    Pool,
    PoolBlocking,
    Actor,
}

impl Strategy {
    const ALL: [Strategy; 4] = [
        Strategy::Open,
        Strategy::Pool,
        Strategy::PoolBlocking,
        Strategy::Actor,
    ];

    fn name(self) -> &'static str {
        match self {
            Strategy::Open => "open",
            Strategy::Pool => "pool",
            Strategy::PoolBlocking => "pool+blocking",
            Strategy::Actor => "actor",
        }
    }

    fn index(self) -> usize {
        match self {
            Strategy::Open => 0,
            Strategy::Pool => 1,
            Strategy::PoolBlocking => 2,
            Strategy::Actor => 3,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Worker,
    Record,
    MemoryGet,
    Mixed,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Worker, Kind::Record, Kind::MemoryGet, Kind::Mixed];

    fn name(self) -> &'static str {
        match self {
            Kind::Worker => "worker",
            Kind::Record => "record",
            Kind::MemoryGet => "memory-get",
            Kind::Mixed => "mixed",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Worker => "store.worker(id): a read by exact id",
            Kind::Record => "record_calls of 1 to 3 CallRecords: one BEGIN IMMEDIATE write",
            Kind::MemoryGet => "memory_get: UPDATE ... RETURNING (counts the access), a write",
            Kind::Mixed => "2 in 4 worker, 1 in 4 memory-get, 1 in 4 record",
        }
    }
}

/// One store call with its arguments, made before the clock starts.
enum Op {
    Worker(String),
    Record(Vec<CallRecord>),
    MemoryGet(String),
}

impl Op {
    /// Makes the call; `false` when a lookup found nothing (a failed check).
    fn run(&self, store: &Store) -> Result<bool, StoreError> {
        match self {
            Op::Worker(id) => Ok(store.worker(id)?.is_some()),
            Op::Record(calls) => store.record_calls(calls).map(|()| true),
            Op::MemoryGet(key) => Ok(store.memory_get(NAMESPACE, key, NOW_MS)?.is_some()),
        }
    }

    fn is_read(&self) -> bool {
        matches!(self, Op::Worker(_))
    }
}

/// What the tasks draw their calls from.
struct Fixture {
    worker_ids: Vec<String>,
    /// Ledger rows written by `record` calls, for the final check.
    recorded: AtomicU64,
}

impl Fixture {
    fn op(&self, kind: Kind, rng: &mut Rng) -> Op {
        let kind = match kind {
            Kind::Mixed => match rng.below(4) {
                0 | 1 => Kind::Worker,
                2 => Kind::MemoryGet,
                _ => Kind::Record,
            },
            other => other,
        };
        match kind {
            Kind::Worker | Kind::Mixed => {
                Op::Worker(self.worker_ids[rng.below(self.worker_ids.len())].clone())
            }
            Kind::MemoryGet => Op::MemoryGet(memory_key(rng.below(MEMORY_ENTRIES))),
            Kind::Record => {
                let n = 1 + rng.below(3);
                let first = self.recorded.fetch_add(n as u64, Ordering::Relaxed);
                let request = format!("req-{first:010}");
                Op::Record(
                    (0..n)
                        .map(|i| call(format!("call-{:010}", first + i as u64), &request, i))
                        .collect(),
                )
            }
        }
    }
}

/// An attempt as dispatch records it (attempt `i + 1` of `request_id`).
fn call(id: String, request_id: &str, i: usize) -> CallRecord {
    CallRecord {
        id,
        request_id: request_id.into(),
        started_at_ms: NOW_MS,
        profile: "code".into(),
        route: "local".into(),
        backend: "local".into(),
        endpoint: "http://127.0.0.1:11438/v1".into(),
        model: "qwen2.5-coder-0.5b".into(),
        locality: Locality::Local,
        attempt: 1 + i as u32,
        usage: Usage {
            prompt_tokens: 1200,
            completion_tokens: 180,
            cached_tokens: 0,
            estimated: false,
        },
        latency_ms: 840,
        ttft_ms: Some(95),
        outcome: CallOutcome::Ok,
        error_class: None,
        error: None,
        cache_hit: false,
        cost_usd: 0.0,
        avoided_usd: 0.0021,
    }
}

fn memory_key(i: usize) -> String {
    format!("pattern-{i:05}")
}

type Job = Box<dyn FnOnce(&Store) + Send>;

/// One thread owning one `Store`, serving boxed closures in the order they arrive.
struct Actor {
    jobs: mpsc::Sender<Job>,
}

impl Actor {
    fn start(path: &Path) -> Result<(Actor, std::thread::JoinHandle<()>), BoxError> {
        let store = Store::open(path)?;
        let (jobs, mut queue) = mpsc::channel::<Job>(ACTOR_QUEUE);
        let thread = std::thread::Builder::new()
            .name("store-actor".into())
            .spawn(move || {
                while let Some(job) = queue.blocking_recv() {
                    job(&store);
                }
            })?;
        Ok((Actor { jobs }, thread))
    }

    async fn call(&self, op: Op) -> Result<bool, BoxError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            // The caller may have gone; then nobody wants the answer.
            drop(reply.send(op.run(store)));
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| "the store actor has stopped")?;
        Ok(answer
            .await
            .map_err(|_| "the store actor dropped a request")??)
    }
}

/// Every strategy's way to the one database.
struct Access {
    path: PathBuf,
    pool: StorePool,
    actor: Actor,
    fixture: Fixture,
}

impl Access {
    async fn call(&self, strategy: Strategy, op: Op) -> Result<bool, BoxError> {
        match strategy {
            Strategy::Open => Ok(op.run(&Store::open(&self.path)?)?),
            Strategy::Pool => Ok(op.run(&*self.pool.get()?)?),
            Strategy::PoolBlocking => {
                let pool = self.pool.clone();
                Ok(tokio::task::spawn_blocking(move || op.run(&*pool.get()?)).await??)
            }
            Strategy::Actor => self.actor.call(op).await,
        }
    }
}

struct Options {
    ops: usize,
    rounds: usize,
    tasks: Vec<usize>,
    kinds: Vec<Kind>,
    hold: Duration,
    lock_rounds: usize,
    seed: u64,
}

fn options(args: &[String]) -> Result<Options, BoxError> {
    let mut options = Options {
        ops: 3000,
        rounds: 10,
        tasks: vec![1, 4, 16],
        kinds: Kind::ALL.to_vec(),
        hold: Duration::from_millis(500),
        lock_rounds: 2,
        seed: 42,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} takes a number, not `{value}`"))
        };
        match flag.as_str() {
            "--ops" => options.ops = number()?.max(1),
            "--rounds" => options.rounds = number()?.max(1),
            "--operations" => {
                options.kinds = value
                    .split(',')
                    .map(|name| {
                        Kind::ALL
                            .into_iter()
                            .find(|k| k.name() == name)
                            .ok_or_else(|| {
                                format!("unknown operation `{name}`; known: worker, record, memory-get, mixed")
                            })
                    })
                    .collect::<Result<_, _>>()?
            }
            "--tasks" => {
                options.tasks = value
                    .split(',')
                    .map(|n| n.parse::<usize>().map(|n| n.max(1)))
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("--tasks takes numbers such as 1,4,16, not `{value}`"))?
            }
            "--hold-ms" => options.hold = Duration::from_millis(number()? as u64),
            "--lock-rounds" => options.lock_rounds = number()?,
            "--seed" => options.seed = number()? as u64,
            other => return Err(format!("unknown flag `{other}`").into()),
        }
    }
    Ok(options)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Creates and seeds the database; returns the worker ids.
fn seed(path: &Path) -> Result<Vec<String>, BoxError> {
    let store = Store::open(path)?;
    let mut ids = Vec::with_capacity(WORKERS);
    for i in 0..WORKERS {
        let id = format!("0190b2c4{i:024x}");
        let spec = WorkerSpec {
            prompt: Some(format!("subtask {i}: make the tests pass")),
            ..WorkerSpec::new(
                format!("worker-{i}"),
                vec!["claude".into(), "-p".into(), "{prompt}".into()],
                "/tmp/project",
            )
        };
        let log = format!("/tmp/project/.baton/workers/{id}.log");
        store.insert_worker(&WorkerRecord::queued(&id, spec, log, NOW_MS + i as i64))?;
        ids.push(id);
    }
    let entries: Vec<NewMemory> = (0..MEMORY_ENTRIES)
        .map(|i| {
            let value = format!(
                "{{\"pattern\":\"retry the request {i} once after refreshing the session token, \
                 then back off with jitter\",\"context\":\"auth service, http client\",\
                 \"confidence\":0.8,\"uses\":{},\"outcome\":\"success\"}}",
                i % 50
            );
            NewMemory::json(NAMESPACE, memory_key(i), value).with_tags(["auth", "retry"])
        })
        .collect();
    store.memory_store_many(&entries, false, NOW_MS)?;
    let calls: Vec<CallRecord> = (0..SEED_CALLS)
        .map(|i| call(format!("seed-{i:06}"), &format!("seed-req-{i:06}"), 0))
        .collect();
    for chunk in calls.chunks(500) {
        store.record_calls(chunk)?;
    }
    Ok(ids)
}

/// Latencies (µs) and wall time of one cell: `ops` calls of `kind` shared by `tasks` tasks.
async fn cell(
    access: &Arc<Access>,
    strategy: Strategy,
    kind: Kind,
    tasks: usize,
    ops: usize,
    seed: u64,
) -> Result<Cell, BoxError> {
    let per_task = ops.div_ceil(tasks);
    let cpu_before = thread_cpu();
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let access = Arc::clone(access);
            let mut rng = Rng(seed ^ (t as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let op = access.fixture.op(kind, &mut rng);
                    let t0 = Instant::now();
                    if !access.call(strategy, op).await? {
                        return Err::<Vec<f64>, BoxError>("a lookup found nothing".into());
                    }
                    latencies.push(t0.elapsed().as_secs_f64() * 1e6);
                    tokio::task::yield_now().await;
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(per_task * tasks);
    for handle in handles {
        all.extend(handle.await??);
    }
    let wall = started.elapsed();
    Ok(Cell {
        latencies: all,
        wall,
        cpu: cpu_since(&cpu_before),
    })
}

/// What one cell measured.
struct Cell {
    /// Per call, µs.
    latencies: Vec<f64>,
    wall: Duration,
    /// CPU time of every thread of this process during the cell (runtime workers, blocking
    /// threads, the actor): what the strategy costs whatever else the machine runs.
    cpu: Option<Duration>,
}

/// CPU time so far of each thread of this process (`/proc/self/task/TID/schedstat`, first
/// field, ns), by thread id; `None` where the kernel does not say.
fn thread_cpu() -> Option<Vec<(u64, u64)>> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let task = task.ok()?;
        let tid = task.file_name().to_str()?.parse().ok()?;
        // A thread that ended since the listing has nothing more to count.
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        threads.push((tid, stat.split_whitespace().next()?.parse().ok()?));
    }
    Some(threads)
}

/// CPU time spent since `before` (a [`thread_cpu`] reading), summed per thread so that a
/// thread that ended in between takes nothing away (it loses only its own last part).
fn cpu_since(before: &Option<Vec<(u64, u64)>>) -> Option<Duration> {
    let (before, after) = (before.as_ref()?, thread_cpu()?);
    let ns = after
        .iter()
        .map(|(tid, ns)| {
            let start = before.iter().find(|(t, _)| t == tid).map_or(0, |(_, s)| *s);
            ns.saturating_sub(start)
        })
        .sum();
    Some(Duration::from_nanos(ns))
}

struct Row {
    p50: f64,
    p99: f64,
    max: f64,
    /// Share of calls that took more than 1 ms: a busy-handler sleep, a checkpoint's fsync,
    /// a wait in the actor's queue, or a thread the machine did not run.
    slow: f64,
    throughput: f64,
    /// CPU µs of the whole process per call.
    cpu: f64,
}

async fn steady(
    access: &Arc<Access>,
    options: &Options,
) -> Result<Vec<(Kind, usize, [Row; 4])>, BoxError> {
    let mut results = Vec::new();
    for &kind in &options.kinds {
        println!("\n== {} ({})", kind.name(), kind.what());
        println!(
            "{:>5}  {:<14} {:>8} {:>9} {:>7} {:>6} {:>8} {:>8}   {:>8} {:>8} {:>9} {:>8}",
            "tasks",
            "strategy",
            "p50 us",
            "p99 us",
            "max ms",
            ">1 ms",
            "calls/s",
            "cpu us",
            "p50/pool",
            "p99/pool",
            "tput/pool",
            "cpu/pool"
        );
        for &tasks in &options.tasks {
            let mut latencies: [Vec<f64>; 4] = Default::default();
            // Calls per second of each round: the median is the throughput, so that a stall the
            // machine causes in one round (another build's fsync) does not decide the ratio.
            let mut rates: [Vec<f64>; 4] = Default::default();
            let mut cpus = [Some(Duration::ZERO); 4];
            let per_round = options.ops.div_ceil(options.rounds);
            for round in 0..options.rounds {
                for i in 0..Strategy::ALL.len() {
                    let strategy = Strategy::ALL[(i + round) % Strategy::ALL.len()];
                    let seed = options.seed ^ (((round * 31 + tasks) as u64) << 8);
                    let cell = cell(access, strategy, kind, tasks, per_round, seed).await?;
                    let i = strategy.index();
                    rates[i].push(cell.latencies.len() as f64 / cell.wall.as_secs_f64());
                    latencies[i].extend(cell.latencies);
                    cpus[i] = cpus[i].zip(cell.cpu).map(|(sum, cpu)| sum + cpu);
                }
            }
            let rows: [Row; 4] = std::array::from_fn(|i| {
                let l = &mut latencies[i];
                l.sort_by(f64::total_cmp);
                Row {
                    p50: percentile(l, 0.5),
                    p99: percentile(l, 0.99),
                    max: l.last().copied().unwrap_or(f64::NAN),
                    slow: l.iter().filter(|&&us| us > 1000.0).count() as f64 / l.len() as f64,
                    throughput: {
                        rates[i].sort_by(f64::total_cmp);
                        percentile(&rates[i], 0.5)
                    },
                    cpu: cpus[i].map_or(f64::NAN, |cpu| cpu.as_secs_f64() * 1e6 / l.len() as f64),
                }
            });
            let base = &rows[Strategy::Pool.index()];
            for strategy in Strategy::ALL {
                let row = &rows[strategy.index()];
                println!(
                    "{tasks:>5}  {:<14} {:>8.1} {:>9.1} {:>7.1} {:>5.1}% {:>8.0} {:>8.1}   {:>7.2}x {:>7.2}x {:>8.2}x {:>7.2}x",
                    strategy.name(),
                    row.p50,
                    row.p99,
                    row.max / 1000.0,
                    row.slow * 100.0,
                    row.throughput,
                    row.cpu,
                    row.p50 / base.p50,
                    row.p99 / base.p99,
                    row.throughput / base.throughput,
                    row.cpu / base.cpu
                );
            }
            results.push((kind, tasks, rows));
        }
        println!("  (load {})", load());
    }
    Ok(results)
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--hold-lock") {
        return hold_lock_child(&args[1..]);
    }
    let options = options(&args)?;
    let dir = std::env::temp_dir().join(format!("store_access-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("baton.db");
    let result = run(&options, &path);
    if std::env::var_os("BENCH_KEEP").is_some() {
        println!("kept {}", dir.display());
    } else {
        // Best effort: a temp dir left behind is no reason to fail the run.
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn run(options: &Options, path: &Path) -> Result<(), BoxError> {
    let worker_ids = seed(path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_WORKERS)
        .enable_all()
        .build()?;
    let (actor, actor_thread) = Actor::start(path)?;
    let access = Arc::new(Access {
        path: path.to_path_buf(),
        pool: StorePool::open(path)?,
        actor,
        fixture: Fixture {
            worker_ids,
            recorded: AtomicU64::new(0),
        },
    });
    println!(
        "store_access: {} calls per cell in {} rounds (strategies in rotating order), tasks {:?}, \
         tokio multi-thread runtime with {RUNTIME_WORKERS} workers, {} cores",
        options.ops,
        options.rounds,
        options.tasks,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "database {} (WAL): {WORKERS} workers, {MEMORY_ENTRIES} memory entries, {SEED_CALLS} ledger rows; load {}",
        path.display(),
        load()
    );
    let steady_results = runtime.block_on(async {
        for strategy in Strategy::ALL {
            cell(&access, strategy, Kind::Mixed, 4, WARM_UP_OPS, options.seed).await?;
        }
        steady(&access, options).await
    })?;
    summary(&steady_results);
    if options.lock_rounds > 0 {
        runtime.block_on(held_lock::report(&access, options))?;
    }
    // The ledger must hold every row the `record` calls wrote, whatever the strategy.
    let expected = SEED_CALLS as u64 + access.fixture.recorded.load(Ordering::Relaxed);
    let found = access.pool.get()?.calls(None)?.len() as u64;
    println!("\nload at end: {}", load());
    drop(runtime);
    match Arc::try_unwrap(access) {
        Ok(access) => {
            drop(access.actor);
            actor_thread
                .join()
                .map_err(|_| "the store actor panicked")?;
        }
        Err(_) => return Err("a task still holds the store".into()),
    }
    if found != expected {
        return Err(format!(
            "CHECK FAILED: the ledger holds {found} rows, {expected} were written"
        )
        .into());
    }
    println!("checks: every lookup found its row; the ledger holds all {found} rows written");
    Ok(())
}

fn summary(results: &[(Kind, usize, [Row; 4])]) {
    println!(
        "\nsummary: each strategy against the pool in the same run, as throughput / p99 / CPU \
         per call (throughput above 1x and the others below 1x are better than the pool)"
    );
    print!("{:<11} {:>5}", "operation", "tasks");
    for strategy in Strategy::ALL {
        print!("  {:>22}", strategy.name());
    }
    println!();
    let mut fastest = [0usize; 4];
    let mut leanest = [0usize; 4];
    for (kind, tasks, rows) in results {
        let base = &rows[Strategy::Pool.index()];
        print!("{:<11} {tasks:>5}", kind.name());
        for strategy in Strategy::ALL {
            let row = &rows[strategy.index()];
            print!(
                "  {:>22}",
                format!(
                    "{:.2} / {:.2} / {:.2}",
                    row.throughput / base.throughput,
                    row.p99 / base.p99,
                    row.cpu / base.cpu
                )
            );
        }
        println!();
        let best = |key: &dyn Fn(&Row) -> f64| {
            Strategy::ALL
                .iter()
                .max_by(|a, b| key(&rows[a.index()]).total_cmp(&key(&rows[b.index()])))
                .map_or(Strategy::Pool.index(), |s| s.index())
        };
        fastest[best(&|r| r.throughput)] += 1;
        leanest[best(&|r| -r.cpu)] += 1;
    }
    let counts = |wins: &[usize; 4]| {
        Strategy::ALL
            .iter()
            .map(|s| format!("{} {}", s.name(), wins[s.index()]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cells = results.len();
    println!(
        "highest throughput, in cells of {cells}: {}",
        counts(&fastest)
    );
    println!(
        "least CPU per call, in cells of {cells}: {}",
        counts(&leanest)
    );
}

/// The other process of the held-lock benchmark: takes the write lock, says so, holds it for
/// `--hold-ms`, commits and says so.
fn hold_lock_child(args: &[String]) -> Result<(), BoxError> {
    let [path, ms] = args else {
        return Err("--hold-lock takes a database path and milliseconds".into());
    };
    let hold = Duration::from_millis(ms.parse()?);
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "held")?;
    out.flush()?;
    // The hold is what is being measured: the lock must stay taken this long.
    std::thread::sleep(hold);
    conn.execute_batch("COMMIT")?;
    writeln!(out, "released")?;
    out.flush()?;
    Ok(())
}
