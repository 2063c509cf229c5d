#!/usr/bin/env bash
# Issue 24's benchmark over many fresh surveys at once, on a machine with many cores (and a GPU for the embedding):
#
#   bash benchmarks/many_surveys.sh WORK SURVEYS VARIANTS [SEEDS]
#
# WORK      a work folder (3.7 GB of caches per 7 surveys at the issue's scale; caches already there are reused)
# SURVEYS   SEED:ARTEFACT_STRENGTH,... as peculiar_vs_artefacts.py takes them, e.g. 472:3,473:4,474:5,475:6
# VARIANTS  a file, one variant a line: NAME|CODE|ARGS, where CODE is a folder holding the `radioexplore` package to
#           run (empty: this checkout's) and ARGS more options for peculiar_vs_artefacts.py (e.g. --active KEY=VALUE)
# SEEDS     the re-ranker's seeds, comma-separated (default 0,1)
#
# First every survey's cache (simulate, ingest, the demo ViT's embedding) is built, one process a survey, PAR at a time;
# then every (seed, survey, variant) runs on its own copy (the tiles, embeddings and images hard-linked), PAR at a time (default:
# the cores Python counts). Tables land in WORK/tables/NAME_SEED_SURVEY.csv and logs in WORK/logs; LIMIT (seconds, default none)
# stops launching runs so that the tables written so far come back. Environment: PY (default .venv/bin/python, else
# python3), ARGS (the scale; default the issue's: --fields 24 --size 2000 --tile 256 --peculiar-scale 1 --embedding vit);
# a PYTHONPATH set beforehand (e.g. wheels installed into a folder on a machine without the packages) stays in front.
# Aggregate with benchmarks/many_surveys_table.py WORK. Its first form ran on the lent GPU machine in session 41
# (benchmarks/README.md, issue 24).
set -u
[ $# -ge 3 ] || { sed -n '2,19p' "$0"; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1" && W=$(cd "$1" && pwd) || exit 2
SURVEYS=$2; VARIANTS=$(cd "$(dirname "$3")" && pwd)/$(basename "$3"); SEEDS=${4:-0,1}
PY=${PY:-$ROOT/.venv/bin/python}; [ -x "$PY" ] || PY=python3
ARGS=${ARGS:-"--fields 24 --size 2000 --tile 256 --peculiar-scale 1 --embedding vit"}
[ -f "$VARIANTS" ] || { echo "many_surveys.sh: no variants file $VARIANTS (NAME|CODE|ARGS a line)"; exit 2; }
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONUNBUFFERED=1
mkdir -p "$W/cache" "$W/v" "$W/logs" "$W/tables"
T0=$(date +%s)
IFS=, read -ra S <<< "$SURVEYS"
IFS=, read -ra SEED <<< "$SEEDS"
PAR=${PAR:-$("$PY" -c 'import os; print(os.cpu_count())')}
build() {  # build SURVEY: simulate, ingest and embed one survey into the caches
    # shellcheck disable=SC2086  # ARGS holds several options
    (cd "$ROOT/benchmarks" && PYTHONPATH="${PYTHONPATH:-}:$ROOT" "$PY" peculiar_vs_artefacts.py --out "$W/cache" \
        --surveys "$1" $ARGS --no-astronomer > "$W/logs/build_${1%%:*}.log" 2>&1)
}
export -f build; export W ROOT PY ARGS
printf '%s\n' "${S[@]}" | xargs -P "$PAR" -I{} bash -c 'build {}'
echo "caches built in $(( $(date +%s) - T0 )) s"
one() {  # one SEED SURVEY VARIANT_LINE
    local seed=$1 s=$2 name code extra n st d src f pp
    IFS='|' read -r name code extra <<< "$3"
    n=${s%%:*}; st=${s##*:}; d=$W/v/${name}_${seed}_$n; src=$W/cache/s${n}_${st}
    mkdir -p "$d/s${n}_${st}/run"
    cp -al "$src/sim" "$d/s${n}_${st}/sim"
    for f in "$src"/run/*; do
        case $(basename "$f") in tiles.zarr|embeddings) cp -al "$f" "$d/s${n}_${st}/run/" ;; *) cp -r "$f" "$d/s${n}_${st}/run/" ;; esac
    done
    pp=${PYTHONPATH:-}:$ROOT; [ -n "$code" ] && pp=${PYTHONPATH:-}:$(cd "$ROOT" && cd "$code" && pwd):$ROOT
    # shellcheck disable=SC2086  # extra holds several options
    (cd "$ROOT/benchmarks" && PYTHONPATH=$pp "$PY" peculiar_vs_artefacts.py --out "$d" --surveys "$s" $ARGS $extra \
        --seed "$seed" --table "$W/tables/${name}_${seed}_$n.csv" > "$W/logs/${name}_${seed}_$n.log" 2>&1)
    rm -rf "$d"
}
export -f one
jobs=$W/jobs.txt; : > "$jobs"
for seed in "${SEED[@]}"; do for s in "${S[@]}"; do
    grep -v -e '^#' -e '^\s*$' "$VARIANTS" | while IFS= read -r line; do printf '%s\t%s\t%s\n' "$seed" "$s" "$line"; done >> "$jobs"
done; done
left=()
[ -n "${LIMIT:-}" ] && left=(timeout $(( LIMIT - $(date +%s) + T0 )))
"${left[@]}" xargs -P "$PAR" -d '\n' -L 1 bash -c 'IFS=$'"'\t'"' read -r a b c <<< "$0"; one "$a" "$b" "$c"' < "$jobs"
echo "$(ls "$W/tables" | wc -l) tables of $(wc -l < "$jobs") runs after $(( $(date +%s) - T0 )) s: $W/tables"
