//! `baton dispatch "TASK"`: the drop-in for `dispatch.sh`. Parses the flags into a
//! [`DispatchRequest`], streams the reply to stdout or the `-o` file, and prints the reply,
//! the `--json` object or, with `--apply`, what changed.

use std::io::IsTerminal;
use std::process::ExitCode;

use baton_core::Route;
use baton_ops::Project;
use baton_ops::dispatch::{CachePolicy, DispatchRequest, DispatchResponse};

use crate::app::read_stdin;
use crate::cli::{DispatchArgs, RouteArgs};
use crate::error::{CliError, Exit};
use crate::output::{FileSink, Printer, StdoutSink};

pub async fn run(project: &Project, args: DispatchArgs) -> Result<ExitCode, CliError> {
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
    let stdin = if !args.no_stdin && !std::io::stdin().is_terminal() {
        Some(read_stdin(
            "the context",
            "pipe UTF-8 text, or pass --no-stdin",
        )?)
    } else {
        None
    };
    let request = DispatchRequest {
        task: args.task.clone(),
        stdin,
        context: args.context.clone(),
        context_from: args.context_from.clone(),
        system: args.system.clone(),
        profile: args.profile.clone(),
        route: requested_route(&args.route)?,
        cache: if args.cache {
            CachePolicy::Use
        } else if args.no_cache {
            CachePolicy::Skip
        } else {
            CachePolicy::Profile
        },
        start_servers: !args.no_start,
        apply: args.apply.then(|| args.apply_target.to_target()),
        ..DispatchRequest::default()
    };
    let printer = Printer::new(args.json);
    let silent_stdout = args.json || args.output.is_some() || args.apply;
    let stdout_sink = StdoutSink::new(silent_stdout, args.stream).quiet(args.json);
    let (response, mut stdout_sink) = match &args.output {
        Some(path) => {
            let write_error = |error: std::io::Error| {
                CliError::new(
                    Exit::Output,
                    format!("cannot write {}: {error}", path.display()),
                )
                .hint("check that the directory exists and is writable")
            };
            let mut sink = FileSink::create(path, stdout_sink).map_err(write_error)?;
            // On failure the sink is dropped here, which removes its temp file.
            let mut response =
                baton_ops::dispatch::dispatch(project, request, &mut sink, &printer).await?;
            sink.commit().map_err(write_error)?;
            response.output = Some(path.display().to_string());
            (response, None)
        }
        None => {
            let mut sink = stdout_sink;
            let response =
                baton_ops::dispatch::dispatch(project, request, &mut sink, &printer).await?;
            (response, Some(sink))
        }
    };
    print(&printer, &response, stdout_sink.as_mut())?;
    match response
        .apply
        .as_ref()
        .and_then(baton_ops::apply::ApplyResponse::failure)
    {
        Some(error) => Err(error.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Prints what the flags ask for: the JSON object, what applying changed, or the end of the
/// streamed reply (it is already in the sink or the `-o` file).
fn print(
    printer: &Printer,
    response: &DispatchResponse,
    sink: Option<&mut StdoutSink>,
) -> Result<(), CliError> {
    if printer.is_json() {
        return printer.json(response);
    }
    if let Some(applied) = &response.apply {
        return printer.applied(applied);
    }
    match sink {
        Some(sink) => sink.finish().map_err(CliError::output),
        None => Ok(()),
    }
}

fn requested_route(args: &RouteArgs) -> Result<Option<Route>, CliError> {
    if args.local {
        return Ok(Some(Route::Local));
    }
    if args.api {
        return Ok(Some(Route::Api));
    }
    args.route
        .as_deref()
        .map(|text| {
            text.parse()
                .map_err(|error: baton_core::route::UnknownName| {
                    CliError::new(Exit::Usage, error.to_string())
                        .hint("use --route auto, --route local or --route api")
                })
        })
        .transpose()
}
