#!/usr/bin/env bash
# Dispatch overhead: `baton dispatch "TASK"` against the curl+jq pipeline it replaces
# (bench/dispatch_sh_equivalent.sh), same server, same request, same run.
#
#   bash bench/dispatch.sh            # 200 calls of each
#   BENCH_N=50 bash bench/dispatch.sh # fewer
#   BATON_BASE_BIN=/path/to/older/baton bash bench/dispatch.sh   # and an older build beside it
#
# One scripted-server answers instantly ("ok"), so what is timed is each client's own cost:
# process start, config, request, reply, and for Baton the ledger write. Calls run one at a
# time, alternating Baton and shell call by call (the order flips every pair) so that load
# drift hits both. Each call is timed by a small python3 driver (perf_counter_ns around the
# child process). Prints median and p90 wall per call for each, and the ratios baton/shell.
# With BATON_BASE_BIN, that build joins the rotation (its own BATON_HOME, since an older build
# may not open a newer ledger) and the ratio baton/base is printed as well: the A/B of a change.
#
# Then a breakdown (BENCH_BREAKDOWN=50 calls of each piece, 0 to skip) times the pieces
# alone (process spawn, `baton --version`, `baton config show`, one jq, one curl, bash), then
# repeats the comparison while another connection holds the ledger open, with Baton also run
# once more per round with one root certificate instead of the system's (SSL_CERT_FILE).
#
# Needs: target/release/baton and target/release/scripted-server (bench/run.sh builds them;
# CARGO_TARGET_DIR is respected), python3, jq and curl. Exit 2 when a tool is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BATON="${BATON_BIN:-$TARGET_DIR/release/baton}"
SERVER="${SCRIPTED_SERVER_BIN:-$TARGET_DIR/release/scripted-server}"
BASELINE="$ROOT/bench/dispatch_sh_equivalent.sh"
BASE_BATON="${BATON_BASE_BIN:-}"
N="${BENCH_N:-200}"
WARMUP="${BENCH_WARMUP:-5}"
BREAKDOWN="${BENCH_BREAKDOWN:-50}"  # calls of each piece in the breakdown; 0 skips it
REPLY="ok"

say() { echo "[dispatch] $*" >&2; }

missing=()
for tool in jq curl python3; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "dispatch: error: missing ${missing[*]}; hint: install them (CI's .ci/run does: apt-get install jq curl)" >&2
  exit 2
fi
for bin in "$BATON" "$SERVER" ${BASE_BATON:+"$BASE_BATON"}; do
  if [ ! -x "$bin" ]; then
    echo "dispatch: error: $bin not found; hint: cargo build --release -p baton -p baton-test-support (or bash bench/run.sh)" >&2
    exit 2
  fi
done
[ -f "$BASELINE" ] || { echo "dispatch: error: $BASELINE is missing" >&2; exit 1; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/baton-bench-dispatch.XXXXXX")"
# shellcheck source=bench/scripted_server.sh
source "$ROOT/bench/scripted_server.sh"
cleanup() {
  scripted_server_stop
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
scripted_server_start "$SERVER" "$REPLY" "$TMP" || exit 1
BASE_URL="$SERVER_URL"

mkdir -p "$TMP/work" "$TMP/home" "$TMP/base-home" "$TMP/xdg"
cd "$TMP/work"
# Same variables for both clients; nothing from the caller's Baton config leaks in.
unset BATON_CONFIG BATON_PROFILE BATON_ROUTE BATON_LOG
export CODER_API_URL="$BASE_URL/v1/chat/completions"
export CODER_MODEL="scripted"
export CODER_MAX_TOKENS="4096"
export CODER_TEMPERATURE="0.2"
export SYSTEM_PROMPT="You are a specialized coding assistant. Return only code."
export BATON_HOME="$TMP/home"
export XDG_CONFIG_HOME="$TMP/xdg"

say "server $BASE_URL, $N calls each (+$WARMUP warm-up), load: $(uptime | sed 's/.*load average: //')"

python3 -u - "$BATON" "$BASELINE" "$N" "$WARMUP" "$REPLY" "$BATON_HOME/baton.db" "$BREAKDOWN" "$BASE_BATON" "$TMP/base-home" <<'PY'
import glob, math, os, sqlite3, statistics, subprocess, sys, time

baton, baseline, reply, db = sys.argv[1], sys.argv[2], sys.argv[5], sys.argv[6]
n, warmup, breakdown = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[7])
task = "Write a function that adds two integers"
base, base_home = sys.argv[8], sys.argv[9]
commands = {
    "baton": [baton, "dispatch", "--no-stdin", task],
    "shell": ["bash", baseline, task],
}
envs = {}
if base:
    commands["base"] = [base, "dispatch", "--no-stdin", task]
    envs["base"] = dict(os.environ, BATON_HOME=base_home)
clients = list(commands)

def load():
    return "%.2f %.2f %.2f" % os.getloadavg()

def call(name, env=None):
    started = time.perf_counter_ns()
    done = subprocess.run(commands[name], env=env or envs.get(name), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter_ns() - started
    if done.returncode != 0 or done.stdout.decode().strip() != reply:
        sys.exit("dispatch: error: %s exited %d with stdout %r, stderr %r"
                 % (name, done.returncode, done.stdout[:200], done.stderr[:500]))
    return elapsed / 1e6

first = {name: call(name) for name in clients}
for _ in range(max(warmup - 1, 0)):
    for name in clients:
        call(name)

load_before = load()
times = {name: [] for name in clients}
for i in range(n):
    # Each client goes first as often as the others, so load drift hits them all alike.
    order = clients[i % len(clients):] + clients[:i % len(clients)]
    for name in order:
        times[name].append(call(name))
load_after = load()

def p90(values):
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]  # nearest rank

ledger = sqlite3.connect(db)
rows = ledger.execute("select count(*) from calls").fetchone()[0]
ledger.close()  # an open connection would spare Baton its WAL checkpoint (see the breakdown)
stats = {name: (statistics.median(v), p90(v), statistics.fmean(v), min(v)) for name, v in times.items()}
print("dispatch overhead: %d sequential calls each, alternating; load avg before %s, after %s"
      % (n, load_before, load_after))
print("%-6s %10s %10s %10s %10s %12s" % ("", "median ms", "p90 ms", "mean ms", "min ms", "first call"))
for name in clients:
    med, p90, mean, lo = stats[name]
    print("%-6s %10.2f %10.2f %10.2f %10.2f %10.2f ms" % (name, med, p90, mean, lo, first[name]))
r_med = stats["baton"][0] / stats["shell"][0]
r_p90 = stats["baton"][1] / stats["shell"][1]
print("ratio baton/shell: median %.3fx, p90 %.3fx (goal: <= 0.1x: %s)"
      % (r_med, r_p90, "met" if r_med <= 0.1 else "MISSED"))
if base:
    print("ratio base/shell: median %.3fx, p90 %.3fx"
          % (stats["base"][0] / stats["shell"][0], stats["base"][1] / stats["shell"][1]))
    print("ratio baton/base: median %.3fx, p90 %.3fx, mean %.3fx (this build against %s)"
          % (stats["baton"][0] / stats["base"][0], stats["baton"][1] / stats["base"][1],
             stats["baton"][2] / stats["base"][2], base))
print("ledger rows in %s: %d (expected >= %d)" % (os.path.basename(db), rows, n))
if rows < n:
    sys.exit("dispatch: error: the ledger has %d rows, fewer than the %d calls made" % (rows, n))

# Where the time goes: each piece of both clients alone, interleaved the same way.
if breakdown > 0:
    url = os.environ["CODER_API_URL"]
    body = '{"model":"scripted","stream":false,"messages":[{"role":"user","content":"hi"}]}'
    pieces = {
        "spawn /bin/true (driver floor)": ["/bin/true"],
        "baton --version (start-up)": [baton, "--version"],
        "baton config show (+ config)": [baton, "config", "show"],
        "baton dispatch (whole call)": commands["baton"],
        "bash -c true": ["bash", "-c", "true"],
        "jq -n (one jq)": ["jq", "-n", "{a: 1}"],
        "curl -s POST (one curl)": ["curl", "-s", "-X", "POST", url, "-H", "Content-Type: application/json", "-d", body],
        "dispatch_sh_equivalent.sh": commands["shell"],
    }
    spent = {name: [] for name in pieces}
    for _ in range(breakdown):
        for name, argv in pieces.items():
            started = time.perf_counter_ns()
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            spent[name].append((time.perf_counter_ns() - started) / 1e6)
            if done.returncode != 0:
                sys.exit("dispatch: error: %s exited %d: %r" % (name, done.returncode, done.stderr[:500]))
    print()
    print("breakdown: %d calls of each piece, interleaved; load avg %s" % (breakdown, load()))
    print("%-34s %10s %10s" % ("", "median ms", "min ms"))
    for name, values in spent.items():
        print("%-34s %10.2f %10.2f" % (name, statistics.median(values), min(values)))

    # The same comparison while another connection keeps the ledger open (as a long-lived
    # Baton process would): Baton's exit is then not the last close, so SQLite neither
    # checkpoints nor deletes the WAL, and the next call does not create it again.
    # And the cost of loading the system's root certificates (Baton's HTTP client reads them
    # all, even for http:// endpoints): the same call with SSL_CERT_FILE naming one root
    # certificate and SSL_CERT_DIR an empty directory (rustls-native-certs honours both).
    pems = sorted(glob.glob("/etc/ssl/certs/*.pem"))
    one_cert = None
    if pems:
        empty = os.path.join(os.path.dirname(db), "no-certs")
        os.makedirs(empty, exist_ok=True)
        one_cert = dict(os.environ, SSL_CERT_FILE=pems[0], SSL_CERT_DIR=empty)
    variants = [("baton", None, "baton"), ("shell", None, "shell")]
    if one_cert:
        variants.append(("baton, 1 root cert", one_cert, "baton"))
    print()
    print("ledger held open by another connection (no WAL checkpoint on exit), %d calls each, rotating; load avg %s"
          % (breakdown, load()))
    holder = sqlite3.connect(db)
    holder.execute("select count(*) from calls").fetchone()
    held = {label: [] for label, _, _ in variants}
    for i in range(breakdown):
        rotated = variants[i % len(variants):] + variants[:i % len(variants)]
        for label, env, name in rotated:
            held[label].append(call(name, env))
    holder.close()
    shell_median = statistics.median(held["shell"])
    for label, _, _ in variants:
        med = statistics.median(held[label])
        print("%-34s median %7.2f ms   ratio to shell %.3fx" % (label, med, med / shell_median))
    if not one_cert:
        print("(no /etc/ssl/certs/*.pem: the one-root-cert variant was skipped)")
    print("load avg after: %s" % load())
PY
say "done, load: $(uptime | sed 's/.*load average: //')"
