//! `baton wait ID…|--all [--timeout D]`: returns as soon as the workers (and the remediation
//! workers started for them) have ended; exit 0 only if each chain ended in success.
//! `--poll D --max-cycles N` keeps the old procedure: one timestamped line per cycle, and
//! after N cycles whatever still runs is stopped as hung (and remediated if asked).

use std::io::Write;
use std::time::{Duration, Instant};

use baton_core::{WorkerRecord, WorkerStatus};
use baton_store::Store;
use nix::sys::signal::Signal;

use crate::app::App;
use crate::cli::WaitArgs;
use crate::commands::kill::signal_supervisor;
use crate::commands::logs::find;
use crate::error::{CliError, Exit};
use crate::workers;

/// How often the store is read while waiting. Ends are recorded by the supervisors the
/// moment they happen; this only bounds how late `wait` notices.
const CHECK_INTERVAL: Duration = Duration::from_millis(25);

/// A worker and the remediation workers that followed it, oldest first.
struct Chain {
    root: String,
    members: Vec<WorkerRecord>,
}

impl Chain {
    fn done(&self) -> bool {
        self.members.iter().all(|w| w.status.is_terminal())
    }
    fn last(&self) -> Option<&WorkerRecord> {
        self.members.last()
    }
}

fn chain(store: &Store, root: &str) -> Result<Chain, CliError> {
    let mut members = vec![find(store, root)?];
    let mut index = 0;
    while index < members.len() {
        let children = store.remediations_of(&members[index].id)?;
        members.extend(children);
        index += 1;
    }
    members.sort_by_key(|w| (w.created_at_ms, w.id.clone()));
    Ok(Chain {
        root: root.to_string(),
        members,
    })
}

pub fn run(app: App, args: WaitArgs) -> Result<std::process::ExitCode, CliError> {
    let store = app.open_store()?;
    let roots: Vec<String> = if args.all {
        store
            .workers(false)?
            .into_iter()
            .filter(|w| !w.status.is_terminal() && w.spec.remediation_of.is_none())
            .map(|w| w.id)
            .collect()
    } else if args.workers.is_empty() {
        return Err(CliError::new(Exit::Usage, "nothing to wait for")
            .hint("name workers (`baton wait ID…`) or pass --all"));
    } else {
        args.workers
            .iter()
            .map(|key| find(&store, key).map(|w| w.id))
            .collect::<Result<_, _>>()?
    };
    let started = Instant::now();
    let interval = args.poll.unwrap_or(CHECK_INTERVAL);
    let mut cycle = 0u32;
    let mut out = std::io::stdout().lock();
    let io_error = CliError::output;
    let chains = loop {
        workers::reconcile(&store)?;
        let chains: Vec<Chain> = roots
            .iter()
            .map(|root| chain(&store, root))
            .collect::<Result<_, _>>()?;
        let all_done = chains.iter().all(Chain::done);
        if args.poll.is_some() {
            cycle += 1;
            let states: Vec<String> = chains
                .iter()
                .filter_map(|c| c.last().map(|w| format!("{} {}", w.id, w.status)))
                .collect();
            let limit = args
                .max_cycles
                .map_or(String::new(), |max| format!("/{max}"));
            writeln!(
                out,
                "{} cycle {cycle}{limit}: {}",
                jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                states.join(", ")
            )
            .map_err(io_error)?;
            out.flush().map_err(io_error)?;
            if !all_done && args.max_cycles.is_some_and(|max| cycle >= max) {
                for worker in chains
                    .iter()
                    .flat_map(|c| &c.members)
                    .filter(|w| !w.status.is_terminal())
                {
                    signal_supervisor(&store, &worker.id, Signal::SIGUSR1)?;
                    crate::commands::kill::wait_ended(
                        &store,
                        &worker.id,
                        Duration::from_millis(worker.spec.grace_ms) + Duration::from_secs(5),
                    )?;
                }
                break roots
                    .iter()
                    .map(|root| chain(&store, root))
                    .collect::<Result<Vec<_>, _>>()?;
            }
        }
        if all_done {
            break chains;
        }
        if args.timeout.is_some_and(|limit| started.elapsed() >= limit) {
            let pending: Vec<String> = chains
                .iter()
                .filter(|c| !c.done())
                .map(|c| c.root.clone())
                .collect();
            return Err(CliError::new(
                Exit::WaitTimeout,
                format!("still running after the --timeout: {}", pending.join(", ")),
            )
            .hint("wait longer, look with `baton logs ID`, or stop them with `baton kill ID`"));
        }
        std::thread::sleep(match args.timeout {
            Some(limit) => interval.min(
                limit
                    .saturating_sub(started.elapsed())
                    .max(Duration::from_millis(1)),
            ),
            None => interval,
        });
    };
    let succeeded = chains.iter().all(|c| {
        c.last()
            .is_some_and(|w| w.status == WorkerStatus::Succeeded)
    });
    if args.json {
        let now = baton_core::now_ms();
        let rows: Vec<serde_json::Value> = chains
            .iter()
            .map(|c| serde_json::json!({ "worker": c.root, "chain": c.members.iter().map(|w| crate::commands::ps::json_row(w, now)).collect::<Vec<_>>() }))
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({ "succeeded": succeeded, "workers": rows })
        )
        .map_err(io_error)?;
    } else {
        for chain in &chains {
            for worker in &chain.members {
                let why = worker
                    .why
                    .as_deref()
                    .map(|w| format!(": {w}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{} {} {}{why}",
                    worker.id, worker.spec.name, worker.status
                )
                .map_err(io_error)?;
            }
        }
    }
    if succeeded {
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        Ok(std::process::ExitCode::from(Exit::WorkersFailed as u8))
    }
}
