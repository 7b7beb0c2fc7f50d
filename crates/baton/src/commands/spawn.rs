//! `baton spawn`: a worker from a template (`--kind`) or a command (`-- CMD ARGS…`), queued
//! in the store and started under its own supervisor as soon as a slot is free.

use std::io::Write;

use baton_core::{RestartPolicy, WorkerRecord, WorkerRole, WorkerSpec, WorkerStatus};
use serde_json::json;

use crate::app::App;
use crate::cli::SpawnArgs;
use crate::error::{CliError, Exit};
use crate::workers::{self, deadline_ms};

pub fn run(app: App, args: SpawnArgs) -> Result<std::process::ExitCode, CliError> {
    let (record, now) = start(&app, &args)?;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        writeln!(
            out,
            "{}",
            json!({ "id": record.id, "name": record.spec.name, "status": now, "log": record.log_path, "command": record.spec.command })
        )
    } else {
        writeln!(out, "{}", record.id)
    };
    written.map_err(CliError::output)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Records the worker and starts its supervisor if a slot is free. Returns the record and
/// its status right after.
pub fn start(app: &App, args: &SpawnArgs) -> Result<(WorkerRecord, WorkerStatus), CliError> {
    let settings = app.config(Vec::new())?.settings;
    let store = app.open_store()?;
    let spec = build_spec(app, &settings, args)?;
    let record = workers::new_record(store.path(), spec);
    store.insert_worker(&record)?;
    // Slots held by workers whose supervisor died are freed first (reconcile promotes).
    if workers::reconcile(&store)?.is_empty() {
        workers::promote(&store)?;
    }
    let now = store
        .worker(&record.id)?
        .map_or(record.status, |w| w.status);
    Ok((record, now))
}

/// The spec from the flags, the kind's template and the `[supervise]` defaults.
fn build_spec(
    app: &App,
    settings: &baton_config::Settings,
    args: &SpawnArgs,
) -> Result<WorkerSpec, CliError> {
    let usage =
        |message: String, hint: &str| CliError::new(Exit::Usage, message).hint(hint.to_string());
    let kind = match &args.kind {
        Some(name) => Some((
            name.clone(),
            settings.workers.get(name).ok_or_else(|| {
                let known: Vec<&str> = settings.workers.keys().map(String::as_str).collect();
                CliError::new(
                    Exit::Config,
                    format!(
                        "unknown worker kind `{name}`; known kinds: {}",
                        known.join(", ")
                    ),
                )
                .hint("pick a known kind, or add `[workers.NAME]` with a `command` to baton.toml")
            })?,
        )),
        None => None,
    };
    let command: Vec<String> = match (&kind, args.command.is_empty()) {
        (Some(_), false) => {
            return Err(usage(
                "give either --kind or a command after `--`, not both".into(),
                "baton spawn --kind codex \"TASK\", or baton spawn -- CMD ARGS",
            ));
        }
        (None, true) => {
            return Err(usage(
                "nothing to run".into(),
                "give --kind KIND \"TASK\" or a command after `--`, e.g. baton spawn -- make test",
            ));
        }
        (Some((name, template)), true) => {
            let takes_prompt = template.command.iter().any(|arg| arg.contains("{prompt}"));
            match (&args.prompt, takes_prompt) {
                (None, true) => {
                    return Err(usage(
                        format!("worker kind `{name}` needs a task"),
                        &format!("baton spawn --kind {name} \"TASK\""),
                    ));
                }
                (prompt, _) => template
                    .command
                    .iter()
                    .map(|arg| arg.replace("{prompt}", prompt.as_deref().unwrap_or_default()))
                    .collect(),
            }
        }
        (None, false) => args.command.clone(),
    };
    let cwd = match &args.cwd {
        Some(dir) if dir.is_absolute() => dir.clone(),
        Some(dir) => app.cwd.join(dir),
        None => app.cwd.clone(),
    };
    if !cwd.is_dir() {
        return Err(CliError::new(
            Exit::Input,
            format!("--cwd {} is not a directory", cwd.display()),
        )
        .hint("create it or pick another"));
    }
    let supervise = &settings.supervise;
    let template = kind.as_ref().map(|(_, t)| *t);
    let pick = |flag: Option<std::time::Duration>, kind: Option<std::time::Duration>, default| {
        deadline_ms(flag.or(kind).unwrap_or(default))
    };
    let program = command
        .first()
        .map(|p| {
            std::path::Path::new(p)
                .file_name()
                .map_or(p.clone(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let mut expect = template.map(|t| t.expect.clone()).unwrap_or_default();
    expect.extend(args.expect.iter().cloned());
    Ok(WorkerSpec {
        name: args
            .name
            .clone()
            .unwrap_or_else(|| kind.as_ref().map_or(program, |(name, _)| name.clone())),
        kind: kind.as_ref().map(|(name, _)| name.clone()),
        role: WorkerRole::Agent,
        command,
        cwd: cwd.display().to_string(),
        prompt: args.prompt.clone(),
        env_set: template
            .map(|t| t.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        env_pass: template.map(|t| t.env_pass.clone()).unwrap_or_default(),
        timeout_ms: pick(
            args.timeout,
            template.and_then(|t| t.timeout),
            supervise.timeout,
        ),
        idle_timeout_ms: pick(
            args.idle_timeout,
            template.and_then(|t| t.idle_timeout),
            supervise.idle_timeout,
        ),
        grace_ms: deadline_ms(args.grace.unwrap_or(supervise.grace)).unwrap_or(0),
        expect,
        expect_pass: args.expect_pass || template.is_some_and(|t| t.expect_pass),
        remediate: args
            .remediate
            .or(template.and_then(|t| t.remediate))
            .unwrap_or(supervise.remediate),
        remediation_of: None,
        max_parallel: args.max_parallel.unwrap_or(supervise.max_parallel).max(1),
        log_cap_bytes: args.log_cap.unwrap_or(supervise.log_cap_bytes),
        tmux: args.tmux,
        restart: RestartPolicy::Never,
        health_url: None,
    })
}
