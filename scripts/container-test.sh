#!/usr/bin/env bash
# Build the project's Dockerfile with podman and run the image for real: as a user runs it
# (`run quickstart.yaml` in a mounted directory, as root and as another user), stopped with
# `podman stop`, and as GitHub runs a container action (GITHUB_ACTIONS=true, /github/workspace,
# /github/file_commands, INPUT_*). docs/container.md describes it.
#
#   bash scripts/container-test.sh [OUTDIR]
#
# OUTDIR keeps each run's mounted directories and logs (default: a temporary directory, removed
# at the end). Needs root, or podman already installed and usable. Re-runs are fast: the base
# image stays in podman's store and `podman build` reuses its layer cache.
#   OSIRIS_CONTAINER_BASE   build on this image instead of localhost/pybase:bookworm, which is
#                           made with debootstrap when missing (no registry is needed)
#   OSIRIS_CONTAINER_IMAGE  the tag to build (default localhost/osiris:test)
#   PYTHON                  python3 for the small checks below (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PATH=$PATH:/usr/sbin:/sbin
PYTHON=${PYTHON:-python3}
BASE=${OSIRIS_CONTAINER_BASE:-localhost/pybase:bookworm}
IMAGE=${OSIRIS_CONTAINER_IMAGE:-localhost/osiris:test}
START=$SECONDS

say() { printf '== %s\n' "$*"; }
fail() { printf 'container-test: FAILED: %s\n' "$*" >&2; exit 1; }
took() { printf '%ss' $((SECONDS - $1)); }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OUT=$WORK/out
if [ $# -gt 0 ]; then
  OUT=$(mkdir -p "$1" && cd "$1" && pwd)
fi
mkdir -p "$OUT"

# One run at a time per machine: apt, debootstrap and the shared image tags do not mix.
exec 9>"${TMPDIR:-/tmp}/osiris-container-test.lock"
flock 9

# --- tools
tools=(podman runc)
[ -n "${OSIRIS_CONTAINER_BASE:-}" ] || tools+=(debootstrap)
missing=()
for tool in "${tools[@]}"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "${missing[*]} not installed, and installing needs root: apt-get install podman buildah debootstrap runc"
  command -v apt-get >/dev/null || fail "${missing[*]} not installed and there is no apt-get; install podman, runc and debootstrap"
  say "installing podman buildah debootstrap runc (missing: ${missing[*]})"
  t=$SECONDS
  if ! { apt-get -o DPkg::Lock::Timeout=600 update -q \
         && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
              podman buildah debootstrap runc; } >"$WORK/apt.log" 2>&1; then
    tail -n 30 "$WORK/apt.log" >&2
    fail "apt-get could not install podman buildah debootstrap runc"
  fi
  say "installed in $(took $t)"
fi

# podman's defaults fail on this kind of host: crun rejects hybrid cgroups, and root without
# CAP_SYS_RESOURCE cannot raise the default rlimits. Only this script's podman sees this file.
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
podman info >"$WORK/podman-info.log" 2>&1 \
  || { tail -n 20 "$WORK/podman-info.log" >&2; fail "podman does not work here (podman info failed)"; }

# --- base image
apt_mirror() {
  # The mirror apt already uses; the repository never names one.
  local uri=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\// && $i !~ /security/) { print $i; exit } }' /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

if [ -n "${OSIRIS_CONTAINER_BASE:-}" ]; then
  say "base image: $BASE (from OSIRIS_CONTAINER_BASE)"
elif podman image exists "$BASE"; then
  say "base image: $BASE (cached)"
else
  mirror=$(apt_mirror)
  say "base image: building $BASE with debootstrap from $mirror"
  t=$SECONDS
  rootfs=$(mktemp -d "${TMPDIR:-/var/tmp}/pybase.XXXXXX")
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { rm -rf "$rootfs"; tail -n 30 "$WORK/debootstrap.log" >&2; fail "debootstrap bookworm from $mirror failed"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" --numeric-owner -c . \
    | podman import --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null \
    || { rm -rf "$rootfs"; fail "podman import of the debootstrap tree failed"; }
  rm -rf "$rootfs"
  say "base image built in $(took $t)"
fi

# --- the image
build_args=(--build-arg "BASE_IMAGE=$BASE"
            --build-arg "OSIRIS_VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' osiris/__init__.py)"
            --build-arg "OSIRIS_REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
# pip inside the build must trust this machine's CA bundle (there may be a TLS-inspecting proxy).
# A bind mount is not saved into the image; PIP_CERT is for bases whose pip has its own bundle.
ca=${PIP_CERT:-${REQUESTS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}}
if [ -r "$ca" ]; then
  build_args+=(-v "$ca:/etc/ssl/certs/ca-certificates.crt:ro"
               --build-arg PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
fi
# The machine's pip index settings, without its pip config files: those name host paths
# (constraint files, find-links directories, file:// indexes) that do not exist in the build and
# make pip fail. Only http(s) indexes and trusted hosts are passed, as build arguments.
while IFS= read -r arg; do
  [ -n "$arg" ] || continue
  build_args+=(--build-arg "$arg")
  say "passing ${arg%%=*} to the build"
done < <("$PYTHON" - <<'EOF'
import os, subprocess, sys

names = {"index-url": "PIP_INDEX_URL", "extra-index-url": "PIP_EXTRA_INDEX_URL",
         "trusted-host": "PIP_TRUSTED_HOST"}
found = {}
try:
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                             capture_output=True, text=True, check=True).stdout
except (OSError, subprocess.CalledProcessError):
    listing = ""
for line in listing.splitlines():
    key, _, value = line.partition("=")
    section, _, name = key.partition(".")
    if section in ("global", "install") and name in names:
        found[names[name]] = value.strip("'\"")
for name in names.values():
    if os.environ.get(name):
        found[name] = os.environ[name]
for name, value in found.items():
    if name != "PIP_TRUSTED_HOST":
        value = " ".join(u for u in value.split() if u.startswith(("http://", "https://")))
    if value:
        print(f"{name}={value}")
EOF
)

say "building $IMAGE from Dockerfile (BASE_IMAGE=$BASE)"
t=$SECONDS
# The builder stage is tagged too: its layers are the cache of the next build. The images these
# tags pointed to before are removed afterwards (with their untagged layers), so repeated runs
# keep one image chain in the store instead of one per change.
builder=$IMAGE-builder
old=$(podman image inspect --format '{{.Id}}' "$IMAGE" "$builder" 2>/dev/null || true)
podman build --layers -f Dockerfile -t "$IMAGE" "${build_args[@]}" "$ROOT" >"$OUT/build.log" 2>&1 \
  || { tail -n 40 "$OUT/build.log" >&2; fail "podman build failed (the last 40 lines are above)"; }
cached=$(grep -c -- '--> Using cache' "$OUT/build.log" || true)
podman build --layers -f Dockerfile --target builder -t "$builder" "${build_args[@]}" "$ROOT" \
    >>"$OUT/build.log" 2>&1 \
  || { tail -n 40 "$OUT/build.log" >&2; fail "podman build --target builder failed"; }
new=$(podman image inspect --format '{{.Id}}' "$IMAGE" "$builder")
for id in $old; do
  grep -qx "$id" <<<"$new" || podman rmi "$id" >/dev/null 2>&1 || true
done
say "image built in $(took $t) ($cached steps from the cache)"
podman image inspect "$IMAGE" >"$OUT/image.json"
say "image size: $(($(podman image inspect --format '{{.Size}}' "$IMAGE") / 1000000)) MB uncompressed"

# --- runs; --network none: the pipelines read and write files only. A failed run is reported
# and the next one still runs, so one broken mode does not hide the state of the others.
cat >"$WORK/check.py" <<'EOF'
import json, pathlib, sys

mode, root = sys.argv[1], pathlib.Path(sys.argv[2])
def die(message):
    sys.exit(f"container-test: FAILED: {mode}: {message}")

sessions = sorted((root / "logs").glob("run_*/session.json"))
if len(sessions) != 1:
    die(f"expected one session under {root}/logs, found {len(sessions)}")
session_dir = sessions[0].parent
info = json.loads(sessions[0].read_text())
expected = ("interrupted", 130) if mode == "stop" else ("succeeded", 0)
if (info["status"], info["exit_code"]) != expected:
    die(f"session {session_dir.name}: status {info['status']}, exit code {info['exit_code']}, "
        f"expected {expected[0]}, {expected[1]}")
if mode != "stop":
    for name in ("events.jsonl", "metrics.jsonl", "artifacts/manifest.json",
                 "artifacts/outputs/output/revenue.csv",
                 "artifacts/outputs/output/revenue.parquet"):
        if not (session_dir / name).is_file() or not (session_dir / name).stat().st_size:
            die(f"session {session_dir.name}: {name} is missing or empty")
    if not (session_dir / "osiris.log").is_file():
        die(f"session {session_dir.name}: osiris.log is missing")
if mode == "nonroot" and (root / "logs").stat().st_uid != 65534:
    die("logs/ is not owned by the container's user")
if mode == "action":
    fc = pathlib.Path(sys.argv[3])
    outputs, lines = {}, iter((fc / "set_output").read_text().splitlines())
    for line in lines:
        if "<<" in line:
            key, delimiter = line.split("<<", 1)
            value = []
            for part in lines:
                if part == delimiter:
                    break
                value.append(part)
            outputs[key] = "\n".join(value)
        elif "=" in line:
            key, value = line.split("=", 1)
            outputs[key] = value
    want = {"session-id": session_dir.name, "status": "succeeded", "exit-code": "0"}
    got = {key: outputs.get(key) for key in want}
    if got != want:
        die(f"GITHUB_OUTPUT has {got}, expected {want}")
    if not (fc / "step_summary").read_text().strip():
        die("the job summary (GITHUB_STEP_SUMMARY) is empty")
    log = pathlib.Path(sys.argv[4]).read_text().splitlines()
    if not any(line.startswith("::notice") and "upload skipped" in line.lower() for line in log):
        die("no ::notice:: that the artifact upload was skipped (there is no runtime token)")
print(f"   {mode}: ok, session {session_dir.name}, {info['status']}")
EOF
check() { "$PYTHON" "$WORK/check.py" "$@"; }

failed=()
run_image() {  # NAME podman-run-args... : runs the image, keeps its output ($OUT/NAME.log, .rc)
  local name=$1 rc=0
  shift
  podman run --rm --network none "$@" >"$OUT/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$OUT/$name.rc"
  if [ "$rc" != 0 ]; then
    tail -n 30 "$OUT/$name.log" >&2
    printf 'container-test: FAILED: %s: the container exited with %s (the last 30 lines are above)\n' "$name" "$rc" >&2
    return 1
  fi
}

t=$SECONDS
# The time is reported, not checked: it depends on the machine (docs/container.md).
say "the version: podman run $IMAGE --version"
ns=$(date +%s%N)
if run_image version "$IMAGE" --version; then
  say "answered in $((($(date +%s%N) - ns) / 1000000)) ms, container start included: $(cat "$OUT/version.log")"
else
  failed+=(version)
fi

# What docker/slim.sh and docker/system-slim.sh leave: no package manager; third-party modules
# as sourceless .pyc (their tracebacks still name file and line), osiris with its sources;
# pip still works.
say "the image's contents: no package manager, sourceless dependencies"
cat >"$OUT/contents.py" <<'EOF'
import os, shutil, subprocess, sys, traceback
import anyio.abc, osiris, yaml

gone = [tool for tool in ("apt-get", "dpkg", "perl", "git") if shutil.which(tool)]
assert not gone, f"in the image: {gone}"
assert yaml.__file__.endswith("/yaml/__init__.pyc"), yaml.__file__
assert osiris.__file__.endswith("/osiris/__init__.py"), osiris.__file__
assert anyio.abc.ByteStream, "anyio's lazy names"  # anyio reads its own source: it kept it
try:
    yaml.safe_load("a: [b")
except yaml.YAMLError:
    # the file and line of the source it was compiled from; that source is not in the image
    frame = traceback.extract_tb(sys.exc_info()[2])[-1]
    assert "/yaml/" in frame.filename and frame.lineno > 0 and not frame.line, frame
    assert not os.path.exists(frame.filename), frame.filename
else:
    raise AssertionError("yaml parsed a broken document")
subprocess.run([sys.executable, "-m", "pip", "check"], check=True)
# the trimmed base still has every library the packages' native code links
unresolved = []
for root, _, files in os.walk("/opt/osiris"):
    for name in files:
        if name.endswith(".so") or ".so." in name:
            path = os.path.join(root, name)
            out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
            unresolved += [f"{path}: {line.strip()}" for line in out.splitlines() if "not found" in line]
assert not unresolved, "\n".join(unresolved)
print("contents: ok")
EOF
if run_image contents -v "$OUT/contents.py:/contents.py:ro" --entrypoint python "$IMAGE" /contents.py; then
  echo "   $(tail -n 1 "$OUT/contents.log")"
else
  failed+=(contents)
fi

say "run as a user: podman run -v DIR:/work -w /work $IMAGE run quickstart.yaml"
mkdir -p "$OUT/user"
cp -R examples/. "$OUT/user/"
if ! { run_image user -v "$OUT/user:/work" -w /work "$IMAGE" run quickstart.yaml \
       && check user "$OUT/user"; }; then
  failed+=(user)
fi

say "run as a user who is not root: --user 65534:65534"
mkdir -p "$OUT/nonroot"
cp -R examples/. "$OUT/nonroot/"
chmod -R a+rwX "$OUT/nonroot"
if ! { run_image nonroot --user 65534:65534 -v "$OUT/nonroot:/work" "$IMAGE" run quickstart.yaml \
       && check nonroot "$OUT/nonroot"; }; then
  failed+=(nonroot)
fi

say "stop a run: podman stop (SIGTERM to PID 1, as docker stop and a cancelled GitHub job do)"
mkdir -p "$OUT/stop"
cp -R examples/. "$OUT/stop/"
cat >"$OUT/stop/endless.yaml" <<'EOF'
oml_version: "0.1.0"
name: endless
steps:
  - {id: orders, component: filesystem.csv_extractor, mode: extract, config: {path: data/orders.csv}}
  - id: spin
    component: duckdb.processor
    mode: transform
    needs: [orders]
    config: {query: "select count(*) as n from orders, range(1000000000000)"}
EOF
cid=$(podman run -d --network none -v "$OUT/stop:/work" "$IMAGE" run endless.yaml)
for _ in $(seq 120); do
  podman logs "$cid" 2>&1 | grep -q 'start  spin' && break
  sleep 0.5
done
podman stop -t 30 "$cid" >/dev/null
rc=$(podman wait "$cid")
podman logs "$cid" >"$OUT/stop.log" 2>&1
podman rm "$cid" >/dev/null
echo "$rc" >"$OUT/stop.rc"
if [ "$rc" != 130 ]; then
  tail -n 30 "$OUT/stop.log" >&2
  printf 'container-test: FAILED: stop: the container exited with %s, expected 130\n' "$rc" >&2
  failed+=(stop)
elif ! check stop "$OUT/stop"; then
  failed+=(stop)
fi

say "run as GitHub runs a container action (GITHUB_ACTIONS=true, INPUT_*)"
ws=$OUT/action/workspace fc=$OUT/action/file_commands
mkdir -p "$ws" "$fc" "$OUT/action/home" "$OUT/action/runner_temp"
cp -R examples "$ws/examples"
for f in set_output step_summary set_env add_path save_state; do : >"$fc/$f"; done
action_env=(-e GITHUB_ACTIONS=true -e CI=true -e HOME=/github/home
            -e GITHUB_WORKSPACE=/github/workspace -e RUNNER_TEMP=/github/runner_temp
            -e GITHUB_OUTPUT=/github/file_commands/set_output
            -e GITHUB_STEP_SUMMARY=/github/file_commands/step_summary
            -e GITHUB_ENV=/github/file_commands/set_env -e GITHUB_PATH=/github/file_commands/add_path
            -e GITHUB_STATE=/github/file_commands/save_state
            -e GITHUB_REPOSITORY=octo/pipelines -e GITHUB_RUN_ID=4242 -e GITHUB_RUN_ATTEMPT=1
            -e GITHUB_SERVER_URL=https://github.com -e GITHUB_API_URL=https://api.github.com
            -e INPUT_PIPELINE=examples/quickstart.yaml -e INPUT_EXECUTOR=local
            -e INPUT_UPLOAD-ARTIFACT=true)
# The runner also sets INPUT_<NAME> to the default of every other input declared in action.yml.
# Expressions (${{ ... }}) are left out: only the runner can evaluate them.
if [ -f action.yml ]; then
  while IFS= read -r -d '' arg; do
    action_env+=(-e "$arg")
  done < <("$PYTHON" - <<'EOF'
import sys

try:
    import yaml
except ImportError:
    sys.exit("container-test: warning: PyYAML is missing (set PYTHON): the action's input defaults are not set")

given = {"PIPELINE", "EXECUTOR", "UPLOAD-ARTIFACT"}
with open("action.yml") as file:
    inputs = yaml.safe_load(file).get("inputs") or {}
for name, spec in inputs.items():
    key, default = name.replace(" ", "_").upper(), (spec or {}).get("default")
    if key in given or default is None or "${{" in str(default):
        continue
    value = str(default).lower() if isinstance(default, bool) else str(default)
    print(f"INPUT_{key}={value}", end="\0")
EOF
  )
fi
if ! { run_image action -v "$ws:/github/workspace" -v "$fc:/github/file_commands" \
         -v "$OUT/action/home:/github/home" -v "$OUT/action/runner_temp:/github/runner_temp" \
         -w /github/workspace "${action_env[@]}" "$IMAGE" \
       && check action "$ws" "$fc" "$OUT/action.log"; }; then
  failed+=(action)
fi
say "a pull request check without git in the image: INPUT_COMMAND=plan-diff in a checkout owned by another user"
pr=$OUT/plan-diff/workspace pfc=$OUT/plan-diff/file_commands
rm -rf "$OUT/plan-diff"
mkdir -p "$pr" "$pfc"
cp -R examples "$pr/examples"
: >"$pfc/set_output"; : >"$pfc/step_summary"
if ! git -C "$pr" init -q -b main >/dev/null 2>&1 \
   || ! git -C "$pr" add . \
   || ! git -C "$pr" -c user.name=ci -c user.email=ci@example.com commit -q -m base; then
  fail "could not make a git repository in $pr (is git installed?)"
fi
sed -i 's/default: 0/default: 100/' "$pr/examples/quickstart.yaml"
chown -R 65534:65534 "$pr" 2>/dev/null || true
if run_image plan-diff -v "$pr:/github/workspace" -v "$pfc:/github/file_commands" \
     -w /github/workspace -e GITHUB_ACTIONS=true -e GITHUB_WORKSPACE=/github/workspace \
     -e GITHUB_OUTPUT=/github/file_commands/set_output \
     -e GITHUB_STEP_SUMMARY=/github/file_commands/step_summary \
     -e INPUT_COMMAND=plan-diff -e INPUT_PIPELINE=examples/quickstart.yaml -e INPUT_BASE-REF=main \
     "$IMAGE"; then
  if grep -qF "\`min_revenue\`: \`0\` → \`100\`" "$pfc/step_summary" && ! podman run --rm --network none \
       --entrypoint sh "$IMAGE" -c 'command -v git' >/dev/null; then
    echo "   plan-diff: ok, the parameter change is in the job summary; no git program in the image"
  else
    printf 'container-test: FAILED: plan-diff: the summary lacks the parameter change, or the image has git\n' >&2
    failed+=(plan-diff)
  fi
else
  failed+=(plan-diff)
fi
say "runs took $(took $t)"

[ ${#failed[@]} = 0 ] || fail "these runs failed: ${failed[*]} (details above)"
say "container test passed in $(took $START)"
