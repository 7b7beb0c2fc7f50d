//! The README's examples, run as written: every ```sh block after an `<!-- example -->`
//! line, in bash with `set -euo pipefail`, with the real `baton` on PATH and the scripted
//! server as the model.

use baton_test_support::{BlockingScriptedServer, Reply, Script};

use crate::support::Sandbox;

fn examples() -> Vec<String> {
    let readme = include_str!("../../../../README.md");
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- example -->" {
            continue;
        }
        assert_eq!(
            lines.next().map(str::trim),
            Some("```sh"),
            "an example marker must precede a sh block"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        blocks.push(block.join("\n"));
    }
    blocks
}

#[test]
fn every_readme_example_runs_and_succeeds() {
    let blocks = examples();
    assert!(blocks.len() >= 2, "the README lost its examples");
    let server = BlockingScriptedServer::start(
        Script::always(Reply::text("class ReceiptService: pass\n")).n_ctx(32768),
    )
    .unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_baton"))
        .parent()
        .unwrap()
        .to_path_buf();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    sandbox.write("src/models.py", "class Receipt:\n    id: int\n");
    sandbox.write(
        "baton.toml",
        "[workers.echo]\ncommand = [\"echo\", \"{prompt}\"]\n",
    );
    sandbox.write("CONTRACTS.md", "# Contracts\n\n## Receipts\n\nGetReceiptById returns a ReceiptDto or None.\n\n## Orders\n\nOrders ship.\n");
    for block in blocks {
        let command = sandbox.command(&[]);
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let result = std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", &block])
            .current_dir(sandbox.path())
            .env_clear()
            .envs(
                command
                    .get_envs()
                    .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
            )
            .env("PATH", path)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            result.status.success(),
            "README example failed:\n{block}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        );
    }
    assert!(sandbox.path().join("tests_receipts.txt").is_file());
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("impl.txt")).unwrap(),
        "class ReceiptService: pass\n"
    );
    assert!(sandbox.path().join("reports/qa.md").is_file());
    sandbox.assert_nothing_left();
}
