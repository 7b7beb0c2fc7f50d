"""bench/edits_corpus.sh's helper: the tasks, one reply's verdict, the corpus files, the tables.

    edits_corpus.py tasks TASKS_TSV                      -> name<TAB>format<TAB>context, per run
    edits_corpus.py keep OUT_JSON CORPUS_DIR MODEL FORMAT TASK CONTEXT
                                                         -> writes the reply (and the .expect header)
    edits_corpus.py judge OUT_JSON PROJECT CHECK         -> "well_formed=.. applied=.. correct=.."
    edits_corpus.py summary RESULTS_TSV TASKS_TSV        -> the per-model, per-format table

The reply is kept byte for byte as `<model>/<format>/<task>.md`; beside it `<task>.expect`
starts with the `context:` line the corpus test needs (the files the model was shown), and the
test's bless mode writes the rest (what the reply parses to) for a person to check.
"""

import json
import os
import subprocess
import sys
import tempfile

FORMATS = {"w": "whole", "s": "search-replace", "u": "udiff"}
CHECK_SECONDS = 60


def tasks(tsv):
    with open(tsv, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, formats, context, _task = line.rstrip("\n").split("\t")
            for letter in formats:
                print(f"{name}\t{FORMATS[letter]}\t{context}")


def load(out_path):
    try:
        with open(out_path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def keep(out_path, corpus, model, fmt, task, context):
    out = load(out_path)
    if out is None or "reply" not in out:
        print(f"edits_corpus: no reply in {out_path}; nothing kept", file=sys.stderr)
        return
    directory = os.path.join(corpus, model, fmt)
    os.makedirs(directory, exist_ok=True)
    # newline="" keeps the reply's own line endings.
    with open(os.path.join(directory, task + ".md"), "w", encoding="utf-8", newline="") as f:
        f.write(out["reply"])
    expect = os.path.join(directory, task + ".expect")
    header = f"context: {context}\n"
    try:
        with open(expect, encoding="utf-8") as f:
            same = f.readline() == header
    except OSError:
        same = False
    if not same:
        with open(expect, "w", encoding="utf-8") as f:
            f.write(header)


def run_check(project, check):
    """Runs the task's check in the project: exit 0 means the change is correct."""
    with open(check, encoding="utf-8") as f:
        code = f.read()
    try:
        if check.endswith(".py"):
            done = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, timeout=CHECK_SECONDS)
        elif check.endswith(".js"):
            done = subprocess.run(["node", "-e", code], cwd=project, capture_output=True, timeout=CHECK_SECONDS)
        elif check.endswith(".rs"):
            # First line: `// checks FILE: ...`; the file under test comes first, then the tests.
            tested = code.split("\n", 1)[0].split()[2].rstrip(":")
            with open(os.path.join(project, tested), encoding="utf-8") as f:
                source = f.read()
            with tempfile.TemporaryDirectory() as scratch:
                crate = os.path.join(scratch, "check.rs")
                with open(crate, "w", encoding="utf-8") as f:
                    f.write("#![allow(dead_code, unused)]\n" + source + "\n" + code)
                binary = os.path.join(scratch, "check")
                built = subprocess.run(["rustc", "--edition", "2021", "--test", "-o", binary, crate],
                                       capture_output=True, timeout=CHECK_SECONDS)
                if built.returncode != 0:
                    return False
                done = subprocess.run([binary], capture_output=True, timeout=CHECK_SECONDS)
        else:
            raise SystemExit(f"edits_corpus: unknown check kind {check}")
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def judge(out_path, project, check):
    out = load(out_path)
    if out is None:
        print("well_formed=0 applied=0 correct=0 parsed_as=- error=no-reply")
        return
    apply = out.get("apply", out)
    well_formed = bool(apply.get("well_formed"))
    edits = apply.get("edits") or []
    done = [e for e in edits if e.get("status") != "dropped"]
    applied = bool(done) and all(e.get("status") in ("applied", "already-applied") for e in done)
    dropped = len(edits) - len(done)
    correct = run_check(project, check)
    parsed_as = apply.get("parsed_as") or "-"
    print(f"well_formed={int(well_formed)} applied={int(applied)} correct={int(correct)} dropped={dropped} parsed_as={parsed_as}")


def summary(results_path, tasks_path):
    """Per model and format, plus whole files again for the tasks with one context file (the
    defect's shape: a reply naming no file, or the wrong one, can only mean that file)."""
    single = set()
    with open(tasks_path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, _formats, context, _task = line.rstrip("\n").split("\t")
                if "," not in context:
                    single.add(name)
    rows = {}
    with open(results_path, encoding="utf-8") as f:
        for line in f:
            model, fmt, task, _code, secs, verdict = line.rstrip("\n").split("\t")
            fields = dict(part.split("=", 1) for part in verdict.split())
            groups = [fmt] + (["whole, one context file"] if fmt == "whole" and task in single else [])
            for group in groups:
                r = rows.setdefault((model, group), {"n": 0, "well_formed": 0, "applied": 0, "correct": 0, "dropped": 0, "secs": 0.0})
                r["n"] += 1
                for key in ("well_formed", "applied", "correct", "dropped"):
                    r[key] += int(fields.get(key, "0"))
                r["secs"] += float(secs)
    print("| model | format | replies | well-formed | applied (in any format) | correct | examples dropped | mean s/reply |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (model, fmt), r in rows.items():
        n = r["n"]

        def pct(key):
            return f"{r[key]} ({100 * r[key] / n:.1f}%)"

        print(f"| {model} | {fmt} | {n} | {pct('well_formed')} | {pct('applied')} | {pct('correct')} | {r['dropped']} | {r['secs'] / n:.1f} |")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"tasks": tasks, "keep": keep, "judge": judge, "summary": summary}[command](*args)
