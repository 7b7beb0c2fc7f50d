//! `baton wait ID…|--all [--timeout D]`: returns as soon as the workers (and the remediation
//! workers started for them) have ended; exit 0 only if each chain ended in success, else an
//! `error:` line naming the failed chains. `--poll D --max-cycles N` keeps the old procedure:
//! one timestamped line per cycle, and after N cycles whatever still runs is stopped as hung
//! (and remediated if asked).

use std::io::Write;
use std::process::ExitCode;

use baton_ops::workers::{Cycle, WaitRequest};
use baton_ops::{OpsError, Project};

use crate::cli::WaitArgs;
use crate::error::CliError;
use crate::output::Printer;

pub async fn run(project: &Project, args: WaitArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let request = WaitRequest {
        workers: args.workers,
        all: args.all,
        timeout: args.timeout,
        poll: args.poll,
        max_cycles: args.max_cycles,
    };
    let mut on_cycle = |cycle: &Cycle| -> Result<(), OpsError> {
        let states: Vec<String> = cycle
            .latest
            .iter()
            .map(|(id, status)| format!("{id} {status}"))
            .collect();
        let limit = cycle
            .max_cycles
            .map_or(String::new(), |max| format!("/{max}"));
        let at = jiff::Timestamp::from_millisecond(cycle.at_ms)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{at} cycle {}{limit}: {}",
            cycle.cycle,
            states.join(", ")
        )
        .and_then(|()| out.flush())
        .map_err(|source| OpsError::Output {
            what: "the wait's cycle lines".into(),
            source,
        })
    };
    let waited = baton_ops::workers::wait(project, request, &mut on_cycle).await?;
    if printer.is_json() {
        printer.json(&waited)?;
    } else {
        for worker in waited.workers.iter().flat_map(|chain| &chain.chain) {
            let why = worker
                .why
                .as_deref()
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            printer.text(format!(
                "{} {} {}{why}",
                worker.id, worker.name, worker.status
            ))?;
        }
    }
    match waited.failure() {
        Some(error) => Err(error.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}
