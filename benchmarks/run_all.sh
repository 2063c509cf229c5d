#!/usr/bin/env bash
# Run every benchmark of issue 7 in one go and keep the output: bash benchmarks/run_all.sh [LOGFILE]
# Takes two to three hours on a 2-core CPU (the 10^6-tile runs dominate: HNSW build, UMAP transform); each script prints its
# machine, load average and package versions first. The figures go into docs/performance.md.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
LOG=${1:-benchmarks/results-$(date +%Y%m%d-%H%M).log}
echo "writing $LOG"
run() {
    echo "=== $*" | tee -a "$LOG"
    # progress bars redraw with carriage returns: keep each script's printed lines, not its bars
    "$PY" "$@" 2>&1 | tr '\r' '\n' | grep -v -E 'it/s\]|s/it\]|^\s*$' | tee -a "$LOG"
}
run benchmarks/embed_throughput.py --pipeline
run benchmarks/embed_throughput.py --arch vit_small --input-px 256 --batch 4 --rounds 2 --pipeline
run benchmarks/faiss_search.py --latency-threads 1
run benchmarks/map_build.py
if [ -f radioexplore/ranking/active.py ] && [ -f benchmarks/rerank_speed.py ]; then
    run benchmarks/rerank_speed.py --sizes 100000,1000000 --regressor extra_trees
else
    echo "=== re-rank time: radioexplore.ranking.active (ActiveRanker) and benchmarks/rerank_speed.py are not in this checkout; skipped" | tee -a "$LOG"
fi
run benchmarks/scale_run.py
run benchmarks/clone_to_demo.py
