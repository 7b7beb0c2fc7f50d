"""bench/edits.sh's helper: judges one `dispatch --apply --json` result, and sums them up.

    edits_check.py OUT_JSON FILE CHECK FORBID   -> prints "well_formed=.. applied=.. correct=.."
    edits_check.py --summary RESULTS_TSV        -> the per-format table
"""

import json
import re
import sys


def judge(out_path, file_path, check, forbid):
    try:
        with open(out_path, encoding="utf-8") as f:
            out = json.load(f)
    except (OSError, ValueError):
        return "well_formed=0 applied=0 correct=0 error=no-reply"
    apply = out.get("apply") or {}
    well_formed = bool(apply.get("well_formed"))
    edits = apply.get("edits") or []
    applied = bool(edits) and all(e.get("status") in ("applied", "already-applied") for e in edits)
    try:
        with open(file_path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        text = ""
    correct = re.search(check, text) is not None and (forbid == "-" or re.search(forbid, text) is None)
    parsed_as = apply.get("parsed_as") or "-"
    return f"well_formed={int(well_formed)} applied={int(applied)} correct={int(correct)} parsed_as={parsed_as}"


def summary(results_path):
    rows = {}
    with open(results_path, encoding="utf-8") as f:
        for line in f:
            _round, fmt, _file, _code, secs, verdict = line.rstrip("\n").split("\t")
            fields = dict(part.split("=", 1) for part in verdict.split())
            r = rows.setdefault(fmt, {"n": 0, "well_formed": 0, "applied": 0, "correct": 0, "secs": 0.0})
            r["n"] += 1
            for key in ("well_formed", "applied", "correct"):
                r[key] += int(fields.get(key, "0"))
            r["secs"] += float(secs)
    print("| format | replies | well-formed | applied (in any format) | correct | mean s/reply |")
    print("|---|---:|---:|---:|---:|---:|")
    for fmt, r in rows.items():
        n = r["n"]
        pct = lambda k: f"{r[k]} ({100 * r[k] / n:.0f}%)"
        print(f"| {fmt} | {n} | {pct('well_formed')} | {pct('applied')} | {pct('correct')} | {r['secs'] / n:.1f} |")


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        summary(sys.argv[2])
    else:
        print(judge(*sys.argv[1:5]))
