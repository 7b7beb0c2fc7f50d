"""The official Python MCP SDK (`pip install mcp`) driving runs through Baton's run tools.

Usage:
    run_client.py SCENARIO BATON REPO

Spawns `BATON mcp` over stdio in the repository REPO (with this process's environment),
plays SCENARIO and prints one JSON object summarizing what it saw (to stdout; errors go to
stderr). Scenarios:
    review        run_start (ticket text, plan object, external review) -> run_status until
                  `awaiting_review` -> run_review reject with notes (and once without, refused)
                  -> run_status until `awaiting_review` again -> run_review approve ->
                  run_status until `approved` and the run's process ended -> run_list; then a
                  further verdict, refused
    invalid-plan  run_start with a plan whose subtask depends on one that does not exist, then
                  a dry run of the valid plan; neither starts a run
    resume        run_start, then (once the Rust side has killed the run's process and said
                  so on stdin) run_status until the run is `interrupted`, run_resume, and
                  run_status until it is `awaiting_review`
    unknown-run   run_status of a run that does not exist
"""

import asyncio
import json
import os
import sys
import time

try:
    from mcp import ClientSession, StdioServerParameters, stdio_client
except ImportError as error:  # pragma: no cover - the Rust test reports the install command
    print(f"MISSING_MCP_SDK: {error}", file=sys.stderr)
    sys.exit(3)

# How long a run may take to reach each state it is polled for.
STATE_TIMEOUT_S = 120
# Between two polls of `run_status`: what an agent would do, much faster.
POLL_INTERVAL_S = 0.2
# Statuses a run does not leave by itself.
FINAL = {"approved", "rejected", "verify_failed", "budget_exhausted", "interrupted", "failed"}

TICKET = """---
id: T-7
title: Add numbers
---

calc.py needs add(a, b).

## Acceptance criteria

- add returns the sum of its arguments
"""

PLAN = {
    "summary": "add in calc.py",
    "decisions": ["a plain function"],
    "interfaces": ["add(a, b) -> number"],
    "subtasks": [
        {
            "id": "calc",
            "title": "add",
            "what": "Write add(a, b) in calc.py.",
            "kind": "code",
            "files": ["calc.py"],
            "context": ["tests/test_calc.py"],
        }
    ],
}


def text_of(result):
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


def payload(result):
    if result.is_error:
        raise SystemExit(f"tool error: {text_of(result)}")
    return json.loads(text_of(result))


async def poll(session, run, target, settled=lambda state: True):
    """Polls `run_status` until the run's status is `target` and `settled(state)`; fails at
    once on another status the run will not leave. Returns the last state and the statuses
    seen."""
    deadline = time.monotonic() + STATE_TIMEOUT_S
    seen = []
    while True:
        state = payload(await session.call_tool("run_status", {"run": run}))
        status = state["run"]["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == target and settled(state):
            return state, seen
        if (status in FINAL and status != target) or time.monotonic() > deadline:
            raise SystemExit(f"the run never got to {target}: statuses {seen}, last state {json.dumps(state)}")
        await asyncio.sleep(POLL_INTERVAL_S)


async def review(session):
    tools = await session.list_tools()
    started = payload(
        await session.call_tool(
            "run_start", {"ticket": TICKET, "plan": PLAN, "review": "external"}
        )
    )
    run = started["run"]
    waiting, seen_before = await poll(session, run, "awaiting_review")
    no_notes = await session.call_tool("run_review", {"run": run, "approve": False})
    rejected = payload(
        await session.call_tool(
            "run_review", {"run": run, "approve": False, "notes": "add must have a docstring"}
        )
    )
    # Waiting again once the coordinator that took the rejection is done.
    rewaiting, seen_between = await poll(
        session,
        run,
        "awaiting_review",
        lambda state: state["digest"]["verdict"] is not None and not state["coordinator"]["alive"],
    )
    reviewed = payload(await session.call_tool("run_review", {"run": run, "approve": True}))
    # Its process ended too: nothing of the run is left running.
    approved, seen_after = await poll(
        session, run, "approved", lambda state: not state["coordinator"]["alive"]
    )
    final = payload(await session.call_tool("run_status", {"run": run[:12], "events": True}))
    listed = payload(await session.call_tool("run_list", {"limit": 5}))
    again = await session.call_tool("run_review", {"run": run, "approve": True})
    return {
        "tools": sorted(tool.name for tool in tools.tools),
        "started": started,
        "waiting": waiting,
        "no_notes_is_error": bool(no_notes.is_error),
        "no_notes_message": text_of(no_notes),
        "rejected": rejected,
        "rewaiting": rewaiting,
        "statuses": seen_before + seen_between + seen_after,
        "reviewed": reviewed,
        "approved": approved,
        "event_kinds": [event["kind"] for event in final.get("events", [])],
        "gates": [
            event["data"]["passed"] for event in final.get("events", []) if event["kind"] == "verify.ran"
        ],
        "listed": [entry["id"] for entry in listed],
        "again_is_error": bool(again.is_error),
        "again_message": text_of(again),
    }


async def invalid_plan(session):
    plan = json.loads(json.dumps(PLAN))
    plan["subtasks"][0]["depends_on"] = ["ghost"]
    result = await session.call_tool("run_start", {"ticket": TICKET, "plan": json.dumps(plan)})
    checked = payload(
        await session.call_tool("run_start", {"ticket": TICKET, "plan": PLAN, "dry_run": True})
    )
    listed = payload(await session.call_tool("run_list", {}))
    return {
        "is_error": bool(result.is_error),
        "message": text_of(result),
        "checked": checked,
        "runs": listed,
    }


async def resume(session):
    started = payload(
        await session.call_tool(
            "run_start", {"ticket": TICKET, "plan": PLAN, "review": "external"}
        )
    )
    run = started["run"]
    # The Rust side stops the run's process once its coder request is in flight.
    print(json.dumps(started), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    stopped, seen_before = await poll(
        session, run, "interrupted", lambda state: not state["coordinator"]["alive"]
    )
    resumed = payload(await session.call_tool("run_resume", {"run": run, "review": "external"}))
    waiting, seen_after = await poll(
        session, run, "awaiting_review", lambda state: not state["coordinator"]["alive"]
    )
    return {
        "started": started,
        "stopped": stopped,
        "resumed": resumed,
        "waiting": waiting,
        "statuses": seen_before + seen_after,
    }


async def unknown_run(session):
    result = await session.call_tool("run_status", {"run": "19990101-000000-none"})
    return {"is_error": bool(result.is_error), "message": text_of(result)}


SCENARIOS = {
    "review": review,
    "invalid-plan": invalid_plan,
    "unknown-run": unknown_run,
    "resume": resume,
}


async def main(argv):
    if len(argv) != 3 or argv[0] not in SCENARIOS:
        raise SystemExit(__doc__)
    scenario, baton, repo = argv
    params = StdioServerParameters(command=baton, args=["mcp"], env=dict(os.environ), cwd=repo)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await SCENARIOS[scenario](session)


if __name__ == "__main__":
    summary = asyncio.run(main(sys.argv[1:]))
    print(json.dumps(summary, sort_keys=True))
