#!/usr/bin/env bash
# Whole-process key creation: `adbkeys create NAME --save-private FILE` against `adb keygen FILE`.
#
# Builds adbkeys in release mode, then runs the two commands in turn, PAIRS times each (default
# 40, at least 30), each writing a key pair to disk: the private key to FILE and the public key to
# FILE.pub. adbkeys also records the key in its store (a temporary one, kept across the runs as
# a user's store is). Which goes first alternates from pair to pair, so load from other work on
# the machine falls on both alike. One unmeasured run of each comes first.
#
# Prints the median, mean and 95th percentile of each command's wall time and the ratio of the
# medians; figures only, never a verdict.
#
# Usage: benches/process.sh [PAIRS]
# Needs: cargo, python3 and the real `adb` (Debian: apt-get install -y adb).

set -euo pipefail

pairs="${1:-40}"
if ! [[ "$pairs" =~ ^[1-9][0-9]*$ ]]; then
    echo "process.sh: PAIRS must be a positive whole number, not '$pairs'" >&2
    exit 2
fi
if ((pairs < 30)); then
    echo "note: $pairs pairs, fewer than the 30 the figures in docs/performance.md need;" \
        "the p95 of so few runs is close to the largest" >&2
fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v adb >/dev/null; then
    echo "process.sh needs the real adb (Debian: apt-get install -y adb)" >&2
    exit 1
fi
if ! command -v python3 >/dev/null; then
    echo "process.sh needs python3 to time the runs" >&2
    exit 1
fi

cargo build --release --quiet --bin adbkeys --manifest-path "$repo/Cargo.toml"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
adbkeys="$target_dir/release/adbkeys"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 - "$adbkeys" "$(command -v adb)" "$work" "$pairs" <<'PYTHON'
import os
import statistics
import subprocess
import sys
import time

adbkeys, adb, work, pairs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = os.path.join(work, "store")
keys = os.path.join(work, "keys")
home = os.path.join(work, "home")
os.makedirs(keys)
os.makedirs(home)

# Neither command may touch the user's home, store or logs; adb must not look for devices.
env = dict(os.environ)
env.update(
    HOME=home,
    XDG_DATA_HOME=os.path.join(home, "data"),
    XDG_STATE_HOME=os.path.join(home, "state"),
    XDG_CACHE_HOME=os.path.join(home, "cache"),
    XDG_CONFIG_HOME=os.path.join(home, "config"),
    ADB_MDNS="0",
    ADB_USB="0",
    ADB_EMU="0",
)
env.pop("ADBKEYS_STORE", None)
env.pop("ADBKEYS_TENANT", None)

# A tenant holds at most 500 key pairs; a long run moves on to the next tenant.
PER_TENANT = 400


def run(command):
    started = time.perf_counter()
    result = subprocess.run(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{command[0]} failed ({result.returncode}): {result.stderr.decode()}")
    return elapsed


def create(index):
    key_file = os.path.join(keys, f"adbkeys-{index}")
    tenant = f"bench-{index // PER_TENANT}" if isinstance(index, int) else "bench-warm-up"
    return run([adbkeys, "--store", store, "--tenant", tenant, "create", f"bench-{index}",
                "--save-private", key_file])


def keygen(index):
    return run([adb, "keygen", os.path.join(keys, f"adb-{index}")])


def load_average():
    with open("/proc/loadavg") as loadavg:
        return loadavg.read().split()[0]


load_before = load_average()

# Unmeasured first runs: the page cache, the store's creation.
create("warm-up")
keygen("warm-up")

times = {"adbkeys create": [], "adb keygen": []}
for index in range(pairs):
    steps = [("adbkeys create", create), ("adb keygen", keygen)]
    if index % 2 == 1:
        steps.reverse()
    for name, step in steps:
        times[name].append(step(index))

# Both wrote a private key and its public key, and adb reads adbkeys' key as its own.
for prefix in ("adbkeys", "adb"):
    for suffix in ("", ".pub"):
        path = os.path.join(keys, f"{prefix}-{pairs - 1}{suffix}")
        if not os.path.getsize(path):
            sys.exit(f"{path} is empty")
last = os.path.join(keys, f"adbkeys-{pairs - 1}")
printed = subprocess.run([adb, "pubkey", last], env=env, capture_output=True, check=True)
with open(last + ".pub", "rb") as public:
    if printed.stdout.split()[0] != public.read().split()[0]:
        sys.exit("adb pubkey does not print the public key adbkeys saved")


def p95(values):
    ordered = sorted(values)
    rank = -(-len(ordered) * 95 // 100)
    return ordered[max(rank, 1) - 1]


cores = os.cpu_count()
model = "unknown"
with open("/proc/cpuinfo") as cpuinfo:
    for line in cpuinfo:
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break

print(f"whole process, {pairs} runs each, alternating ({cores} cores, {model})")
print(f"load average {load_before} before, {load_average()} after")
print(f"{'command':<16} {'median ms':>10} {'mean':>8} {'p95':>8} {'min':>8} {'max':>8}")
for name, values in times.items():
    ms = [value * 1e3 for value in values]
    print(f"{name:<16} {statistics.median(ms):>10.1f} {statistics.mean(ms):>8.1f} "
          f"{p95(ms):>8.1f} {min(ms):>8.1f} {max(ms):>8.1f}")

ratio = statistics.median(times["adbkeys create"]) / statistics.median(times["adb keygen"])
print(f"median ratio adbkeys create / adb keygen: {ratio:.2f} (target: at most 0.80)")
PYTHON
