//! `baton publish [RUN] [--json]`: delivers what a run's trail still has pending (or every
//! run's, without RUN), and shows each publication: where it went, or why it has not yet.
//! The exit code says whether anything is still pending.

use std::process::ExitCode;

use baton_ops::Project;
use baton_pipeline::publish::PublishResponse;

use crate::cli::PublishArgs;
use crate::error::{CliError, Exit};
use crate::output::Printer;

pub async fn publish(project: &Project, args: PublishArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let answers: Vec<PublishResponse> = match &args.run {
        Some(run) => {
            vec![baton_pipeline::publish::publish(project, run, &baton_pipeline::Quiet).await?]
        }
        None => baton_pipeline::publish::publish_pending(project, &baton_pipeline::Quiet).await?,
    };
    let pending: usize = answers.iter().map(|answer| answer.pending).sum();
    if printer.is_json() {
        // One run asked for: its answer; every pending run: the list.
        match (&args.run, answers.as_slice()) {
            (Some(_), [answer]) => printer.json(answer)?,
            _ => printer.json(&answers)?,
        }
    } else {
        printer.text(render(&answers))?;
    }
    if pending > 0 {
        return Err(CliError::new(
            Exit::Unreachable,
            format!(
                "{pending} publication{} still pending",
                if pending == 1 { " is" } else { "s are" }
            ),
        )
        .hint(
            "fix what the errors above say (a login, a key, a URL) and run `baton publish` again",
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn render(answers: &[PublishResponse]) -> String {
    if answers.is_empty() {
        return "nothing pending\n".into();
    }
    let mut out = String::new();
    for answer in answers {
        out.push_str(&format!(
            "run {}: {} sent now, {} pending\n",
            answer.run_id, answer.sent_now, answer.pending
        ));
        let mut table = crate::output::table([
            "target",
            "action",
            "key",
            "status",
            "attempts",
            "where / why",
        ]);
        for publication in &answer.publications {
            table.add_row([
                publication.target.to_string(),
                publication.action.clone(),
                publication.key.clone(),
                publication.status.as_str().to_string(),
                publication.attempts.to_string(),
                publication
                    .last_error
                    .clone()
                    .or_else(|| publication.link.clone())
                    .unwrap_or_default(),
            ]);
        }
        out.push_str(&format!("{table}\n"));
    }
    out
}
