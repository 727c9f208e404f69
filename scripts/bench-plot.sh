#!/usr/bin/env bash
# Throughput and p99 against concurrency for /healthz, refresh (durable, the default
# SQLite) and /me (EdDSA), one server, one run; writes docs/bench-concurrency.png.
# Usage: scripts/bench-plot.sh [duration per point] [output]   (defaults: 5s docs/bench-concurrency.png)
# Needs python3 with matplotlib (pip install matplotlib).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-5s}
out=${2:-docs/bench-concurrency.png}
python3 -c 'import matplotlib' 2>/dev/null || { echo "bench-plot: needs matplotlib (pip install matplotlib)" >&2; exit 1; }
. scripts/bench-lib.sh
bench_start "sqlite://$work/symbolon.db"
for c in 1 4 16 64 256; do
  for scenario in healthz refresh verify; do
    bench_run "$scenario" "$c" "$duration" | tee -a "$work/points.jsonl"
  done
done
python3 - "$work/points.jsonl" "$out" <<'PY'
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
points = [json.loads(l) for l in open(sys.argv[1])]
names = {"healthz": "/healthz", "refresh": "refresh (durable)", "verify": "/me (EdDSA)"}
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
for s, label in names.items():
    ps = sorted((p for p in points if p["scenario"] == s), key=lambda p: p["concurrency"])
    xs = [p["concurrency"] for p in ps]
    a.plot(xs, [p["requests_per_s"] for p in ps], marker="o", label=label)
    b.plot(xs, [p["p99_ms"] for p in ps], marker="o", label=label)
for ax, title, unit in ((a, "throughput", "requests/s"), (b, "p99 latency", "ms")):
    ax.set_xscale("log", base=4); ax.set_yscale("log"); ax.set_xlabel("concurrent workers")
    ax.set_ylabel(unit); ax.set_title(title); ax.grid(True, which="both", alpha=0.3); ax.legend()
fig.suptitle("symbolon, one server, SQLite (power-loss durable), 2 cores shared with the load tool")
fig.tight_layout(); fig.savefig(sys.argv[2], dpi=110)
PY
echo "wrote $out"
