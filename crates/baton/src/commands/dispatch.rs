//! `baton dispatch "TASK"`: the drop-in for `dispatch.sh`. Gathers context (stdin, files,
//! sections of long documents), plans the route, checks the request fits what the servers
//! really serve, serves it from the cache or streams it from the chain, and writes every
//! attempt to the ledger.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use baton_config::Settings;
use baton_core::now_ms;
use baton_core::{CallRecord, Locality, Route, estimate_tokens};
use baton_llm::context::{self, ContextPart};
use baton_llm::dispatch::{DispatchInput, cache_hit_record, chat_request};
use baton_llm::router::{self, RoutePlan, Target};
use baton_llm::{DispatchError, Dispatcher, ReplySink};
use baton_store::{CachedReply, Store};
use serde_json::json;

use crate::app::{App, read_stdin};
use crate::cli::{DispatchArgs, RouteArgs};
use crate::commands::doctor::ensure_probed;
use crate::error::{CliError, Exit, error_with_causes};
use crate::output::{FileSink, StdoutSink};

/// Warn when fewer tokens than this are left for the reply in the server's context.
const REPLY_ROOM_WARNING_TOKENS: u64 = 1024;

pub async fn run(app: App, args: DispatchArgs) -> Result<std::process::ExitCode, CliError> {
    perform(&app, &args)
        .await
        .map(|_| std::process::ExitCode::SUCCESS)
}

/// Does the whole dispatch and returns the `--json` object; prints only what the flags ask
/// for (nothing at all with `quiet_stdout`, as the MCP server needs).
pub async fn perform(app: &App, args: &DispatchArgs) -> Result<serde_json::Value, CliError> {
    let mut flags = Vec::new();
    if let Some(profile) = &args.profile {
        flags.push((
            "dispatch.profile".to_string(),
            toml::Value::String(profile.clone()),
            "--profile".to_string(),
        ));
    }
    if !args.apply
        && (args.apply_target.root.is_some()
            || !args.apply_target.allow.is_empty()
            || args.apply_target.dry_run
            || args.apply_target.partial)
    {
        return Err(CliError::new(
            Exit::Usage,
            "--root, --allow, --dry-run and --partial only go with --apply",
        )
        .hint("add --apply to apply the reply to files"));
    }
    // Checked before any model is called: a bad root would waste the call.
    let apply_options = args
        .apply
        .then(|| crate::commands::apply::options(app, &args.apply_target))
        .transpose()?;
    let loaded = app.config(flags)?;
    let settings = Arc::new(loaded.settings);
    let profile = settings.dispatch.profile.clone();
    let requested = requested_route(&args.route, &settings)?;
    let store = app.open_store()?;
    let request_id = uuid::Uuid::now_v7().to_string();

    // Context: stdin, files, then document sections within what is left of the budget.
    let mut parts = Vec::new();
    if !args.no_stdin && !std::io::stdin().is_terminal() {
        let text = read_stdin("the context", "pipe UTF-8 text, or pass --no-stdin")?;
        if !text.trim().is_empty() {
            parts.push(ContextPart::stdin(text));
        }
    }
    let context_files = context::expand_patterns(&args.context, &app.cwd)?;
    for path in &context_files {
        parts.push(context::read_file(path, &app.cwd)?);
    }
    let direct_tokens: u64 =
        parts.iter().map(|part| part.tokens).sum::<u64>() + estimate_tokens(&args.task);

    // Route: pinned, or auto by rules (and a classifier model when configured).
    let mut ledger: Vec<CallRecord> = Vec::new();
    let dispatcher = Dispatcher::new(Arc::clone(&settings));
    let decided = if requested == Route::Auto {
        let (decided, records) = dispatcher
            .auto_route(&args.task, direct_tokens, &request_id)
            .await;
        ledger.extend(records);
        Some(decided)
    } else {
        None
    };
    let mut plan = router::plan(&settings, &profile, requested, decided)?;
    tracing::info!(route = %plan.route, why = %plan.reason, chain = ?plan.chain.iter().map(Target::label).collect::<Vec<_>>(), "route chosen");
    let budget = plan.context_budget(&settings);
    for doc in &args.context_from {
        let text = std::fs::read_to_string(doc).map_err(|error| {
            CliError::new(
                Exit::Input,
                format!("cannot read --context-from {}: {error}", doc.display()),
            )
            .hint("check the path of the document")
        })?;
        let used: u64 = parts.iter().map(|part| part.tokens).sum();
        let selection = baton_llm::sections::select(&text, &args.task, budget.saturating_sub(used));
        let name = doc
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !selection.sections.is_empty() {
            let rendered = baton_llm::sections::render(&selection, &name);
            parts.push(ContextPart::sections(&name, rendered));
        }
        tracing::info!(doc = %doc.display(), picked = selection.sections.len(), dropped = selection.dropped, "sections chosen");
    }
    context::check_budget(&parts, budget).map_err(|error| {
        CliError::from(error).hint(format!(
            "the {} route allows {budget} tokens of context; pass fewer files, use --context-from, or --api",
            plan.route
        ))
    })?;
    let user = context::user_message(&args.task, &parts);
    // The format the first step's profile asks for; fallbacks are asked the same, so that
    // the reply parses whichever step wrote it.
    let apply = match (apply_options, plan.chain.first()) {
        (Some(options), Some(first)) => Some(ApplyContext {
            store: &store,
            format: first.edit_format,
            sole_file: match &context_files[..] {
                [only] => relative_to(&options.root, &app.cwd.join(only)),
                _ => None,
            },
            options,
        }),
        _ => None,
    };
    let input = DispatchInput {
        request_id: request_id.clone(),
        user,
        system_override: args.system.clone(),
        answer_format: apply
            .as_ref()
            .map(|apply| baton_edit::prompt(apply.format).to_string()),
    };

    // A first step served by a `[servers.NAME]` entry gets its server started if it is down.
    if let Some(first) = plan.chain.first()
        && let Some(server) = first.backend.server.clone()
    {
        ensure_server(app, &store, &settings, &server, first, args.no_start).await?;
    }
    // Preflight: drop steps whose server cannot hold the prompt; never truncate.
    preflight(&dispatcher, &store, &settings, &mut plan, &input).await?;

    let use_cache = !args.no_cache
        && (args.cache || settings.dispatch.cache || plan.chain.first().is_some_and(|t| t.cache));
    // Preflight refuses an empty chain, so this only guards against a bug.
    let first = plan.chain.first().cloned().ok_or_else(|| {
        CliError::new(Exit::Internal, "no backend left to try after the preflight")
            .hint("this is a bug in baton; please report it with the command you ran")
    })?;
    let cache_key =
        use_cache.then(|| baton_llm::cache::key(&first, &chat_request(&first, &input), &parts));

    let silent_stdout = args.json || args.output.is_some() || args.quiet_stdout || args.apply;
    let stdout_sink = StdoutSink::new(silent_stdout, args.stream).quiet(args.json);
    if let Some(key) = &cache_key
        && let Some(hit) = store.cache_get(key)?
    {
        let record = cache_hit_record(
            &settings,
            &plan,
            &first,
            &request_id,
            &hit.backend,
            &hit.model,
            hit.usage,
        );
        ledger.push(record.clone());
        store.record_calls(&ledger)?;
        // The cached reply goes where a streamed one would: the -o file, else stdout.
        let mut sink = stdout_sink;
        match &args.output {
            Some(path) => write_atomically(path, &hit.reply),
            None => sink.delta(&hit.reply),
        }
        .map_err(|error| write_error(args, error))?;
        let served = Served {
            reply: &hit.reply,
            record: &record,
            latency_ms: record.latency_ms,
        };
        return finish(args, &plan, &served, Some(&mut sink), apply);
    }

    let (result, sink_outcome) = match &args.output {
        Some(path) => {
            let mut sink =
                FileSink::create(path, stdout_sink).map_err(|error| write_error(args, error))?;
            let result = dispatcher.dispatch(&plan, &input, &mut sink).await;
            let outcome = match &result {
                Ok(_) => sink.commit().map_err(|error| write_error(args, error)),
                Err(_) => {
                    sink.abandon();
                    Ok(())
                }
            };
            (result, outcome.map(|()| None))
        }
        None => {
            let mut sink = stdout_sink;
            let result = dispatcher.dispatch(&plan, &input, &mut sink).await;
            (result, Ok(Some(sink)))
        }
    };
    match result {
        Ok(result) => {
            ledger.extend(result.attempts.iter().cloned());
            store.record_calls(&ledger)?;
            let mut sink = sink_outcome?;
            if let Some(key) = &cache_key {
                let entry = CachedReply {
                    backend: result.target.backend_name.clone(),
                    model: result.target.model.clone(),
                    reply: result.reply.clone(),
                    usage: result.usage,
                    created_at_ms: now_ms(),
                };
                store.cache_put(key, &entry)?;
            }
            warn_truncation(&result, &input, args.json);
            let last = result.attempts.last().ok_or_else(|| {
                CliError::new(Exit::Internal, "a reply without an attempt record")
                    .hint("this is a bug in baton; please report it with the command you ran")
            })?;
            let served = Served {
                reply: &result.reply,
                record: last,
                latency_ms: u64::try_from(result.latency.as_millis()).unwrap_or(u64::MAX),
            };
            finish(args, &plan, &served, sink.as_mut(), apply)
        }
        Err(failure) => {
            ledger.extend(failure.attempts);
            store.record_calls(&ledger)?;
            Err(dispatch_error(&failure.error, &plan))
        }
    }
}

fn requested_route(args: &RouteArgs, settings: &Settings) -> Result<Route, CliError> {
    if args.local {
        return Ok(Route::Local);
    }
    if args.api {
        return Ok(Route::Api);
    }
    match &args.route {
        Some(text) => text
            .parse()
            .map_err(|error: baton_core::route::UnknownName| {
                CliError::new(Exit::Usage, error.to_string())
                    .hint("use --route auto, --route local or --route api")
            }),
        None => Ok(settings.dispatch.route),
    }
}

/// Checks local steps against the context their server really serves: a step that cannot
/// hold the prompt is dropped (with a notice); when none is left the request is refused.
async fn preflight(
    dispatcher: &Dispatcher,
    store: &Store,
    settings: &Settings,
    plan: &mut RoutePlan,
    input: &DispatchInput,
) -> Result<(), CliError> {
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for target in plan.chain.drain(..) {
        if target.locality() != Locality::Local {
            kept.push(target);
            continue;
        }
        let prompt_tokens = input.prompt_tokens(&target);
        let probe = ensure_probed(dispatcher, store, settings, &target).await;
        match probe.and_then(|probe| probe.n_ctx) {
            Some(n_ctx) if prompt_tokens >= n_ctx => {
                refused.push(format!(
                    "{} serves a context of {n_ctx} tokens and the prompt is ~{prompt_tokens}",
                    target.label()
                ));
            }
            Some(n_ctx) => {
                let room = n_ctx - prompt_tokens;
                // Only worth saying when the room left is small in absolute terms.
                if room < u64::from(target.max_tokens).min(REPLY_ROOM_WARNING_TOKENS) {
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "baton: warning: {} serves {n_ctx} tokens of context; with a ~{prompt_tokens}-token prompt the reply may be cut at ~{room} tokens (max_tokens {})",
                        target.label(),
                        target.max_tokens
                    );
                }
                kept.push(target);
            }
            None => kept.push(target),
        }
    }
    for reason in &refused {
        let _ = writeln!(std::io::stderr().lock(), "baton: skipping {reason}");
    }
    if kept.is_empty() {
        return Err(CliError::new(
            Exit::TooLarge,
            format!("the request does not fit: {}", refused.join("; ")),
        )
        .hint(
            "send less context, raise the server's context size (llama-server -c), or use --api",
        ));
    }
    plan.chain = kept;
    Ok(())
}

/// Warns when a server counted far fewer prompt tokens than were sent: the mark of a server
/// silently truncating context.
fn warn_truncation(result: &baton_llm::DispatchResult, input: &DispatchInput, quiet: bool) {
    if let Some((reported, sent)) = result.suspected_truncation(input)
        && !quiet
    {
        let _ = writeln!(
            std::io::stderr().lock(),
            "baton: warning: {} counted {reported} prompt tokens but ~{sent} were sent; it may have truncated the context\nhint: raise the server's context size (llama-server -c, Ollama num_ctx) and run `baton doctor`",
            result.target.label()
        );
    }
}

/// What `--apply` needs once the reply is in.
struct ApplyContext<'a> {
    store: &'a Store,
    format: baton_core::EditFormat,
    options: baton_edit::ApplyOptions,
    /// The only context file, relative to the root: what a reply naming no file means.
    sole_file: Option<String>,
}

/// `file` relative to `root`, when it lies under it.
fn relative_to(root: &std::path::Path, file: &std::path::Path) -> Option<String> {
    let root = root.canonicalize().ok()?;
    let file = file.canonicalize().ok()?;
    file.strip_prefix(&root)
        .ok()
        .map(|relative| relative.to_string_lossy().into_owned())
}

/// A reply, streamed or from the cache, and the ledger record of the attempt that gave it.
struct Served<'a> {
    reply: &'a str,
    record: &'a CallRecord,
    /// Wall time of the whole dispatch, retries and fallbacks included (0 from the cache).
    latency_ms: u64,
}

/// Applies the reply when asked, then prints what the flags ask for (the reply itself is
/// already in the sink or the -o file) and returns the `--json` object.
fn finish(
    args: &DispatchArgs,
    plan: &RoutePlan,
    served: &Served<'_>,
    sink: Option<&mut StdoutSink>,
    apply: Option<ApplyContext<'_>>,
) -> Result<serde_json::Value, CliError> {
    let Served {
        reply,
        record,
        latency_ms,
    } = *served;
    let applied = apply
        .map(|apply| {
            crate::edits::apply_reply(
                apply.store,
                crate::edits::ApplyRequest {
                    reply,
                    format: Some(apply.format),
                    options: apply.options,
                    model: Some(record.model.clone()),
                    request_id: Some(record.request_id.clone()),
                    sole_file: apply.sole_file,
                },
            )
        })
        .transpose()?;
    let mut object = json!({
            "reply": reply,
            "backend": record.backend,
            "endpoint": record.endpoint,
            "model": record.model,
            "profile": record.profile,
            "locality": record.locality,
            "route": { "requested": plan.requested, "taken": plan.route, "why": plan.reason, "skipped": plan.skipped },
            "usage": {
                "prompt_tokens": record.usage.prompt_tokens,
                "completion_tokens": record.usage.completion_tokens,
                "cached_tokens": record.usage.cached_tokens,
                "estimated": record.usage.estimated,
            },
            "latency_ms": latency_ms,
            "ttft_ms": record.ttft_ms,
            "attempts": record.attempt,
            "cache_hit": record.cache_hit,
            "cost_usd": record.cost_usd,
            "output": args.output.as_ref().map(|p| p.display().to_string()),
    });
    if let Some(applied) = &applied {
        object["apply"] = applied.to_json();
    }
    if args.quiet_stdout {
        return Ok(object);
    }
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &object).map_err(|error| CliError::output(error.into()))?;
        out.write_all(b"\n").map_err(CliError::output)?;
        out.flush().map_err(CliError::output)?;
    } else if let Some(applied) = &applied {
        crate::commands::apply::print(applied, false)?;
    } else if let Some(sink) = sink {
        sink.finish().map_err(CliError::output)?;
    }
    if let Some(error) = applied.as_ref().and_then(crate::edits::Applied::failure) {
        return Err(error);
    }
    Ok(object)
}

/// Writes a whole reply to the -o file the way a streamed one is: beside it, then renamed.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut sink = FileSink::create(path, StdoutSink::new(true, false))?;
    sink.delta(text)?;
    sink.commit()
}

/// The reply could not be written: to the -o file when there is one, else to stdout.
fn write_error(args: &DispatchArgs, error: std::io::Error) -> CliError {
    match &args.output {
        Some(path) => CliError::new(
            Exit::Output,
            format!("cannot write {}: {error}", path.display()),
        )
        .hint("check that the directory exists and is writable"),
        None => CliError::output(error),
    }
}

/// Turns a failed dispatch into one line, a hint and an exit code.
fn dispatch_error(error: &DispatchError, plan: &RoutePlan) -> CliError {
    use baton_llm::CallError;
    let message = error_with_causes(error);
    match error {
        DispatchError::Output(_) => CliError::new(Exit::Output, message).hint("check that stdout or the -o file is writable"),
        DispatchError::NoTarget { .. } => CliError::new(Exit::Config, message).hint("check the profile's backend and fallback"),
        DispatchError::Exhausted { .. } => match error.last_call_error() {
            Some(CallError::Connect { url, .. }) => CliError::new(Exit::Unreachable, message).hint(format!(
                "start the model server at {url} (e.g. `llama-server -m MODEL --port PORT`), or run `baton doctor`"
            )),
            Some(CallError::Timeout { .. }) => CliError::new(Exit::Unreachable, message)
                .hint("the server is slow or stuck: check it with `baton doctor`, or raise first_token_timeout / total_timeout"),
            Some(CallError::ContextOverflow { .. }) => CliError::new(Exit::TooLarge, message)
                .hint("send less context or raise the server's context size (llama-server -c)"),
            Some(CallError::MissingKey { var, .. }) => {
                CliError::new(Exit::Config, message).hint(format!("export {var}=... or drop --api"))
            }
            Some(CallError::Http { status: 401 | 403, .. }) => CliError::new(Exit::Backend, message)
                .hint("check the API key in the variable the backend names (api_key_env)"),
            Some(CallError::Http { status: 404, .. }) => CliError::new(Exit::Backend, message)
                .hint("check the backend URL (it should end in /v1) and the model name, or run `baton doctor`"),
            _ => CliError::new(Exit::Backend, message).hint(format!(
                "run `baton doctor`; the route was {} ({})",
                plan.route, plan.reason
            )),
        },
    }
}

/// Starts the model server a step needs when it does not answer (unless `--no-start`).
async fn ensure_server(
    app: &App,
    store: &Store,
    settings: &Settings,
    server: &str,
    target: &Target,
    no_start: bool,
) -> Result<(), CliError> {
    let health = &settings.servers[server].health;
    if baton_exec::health::check(health, std::time::Duration::from_secs(1)) {
        return Ok(());
    }
    if no_start {
        return Err(CliError::new(
            Exit::Unreachable,
            format!(
                "the server `{server}` of {} is down ({health} does not answer)",
                target.label()
            ),
        )
        .hint(format!(
            "start it with `baton server up {server}`, or drop --no-start"
        )));
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "baton: starting server `{server}` for {}",
        target.label()
    );
    crate::commands::server::up(app, store, settings, server)
        .await
        .map(drop)
}
