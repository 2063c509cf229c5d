"""Time from a fresh clone to a served demo: ``git clone``, ``make demo PORT=...``, poll until HTTP 200.

What a new user waits for: the clone, ``make install`` (a virtual environment with every
dependency from the package index), ``radioexplore demo`` (simulate a survey, ingest, embed,
index, map, rank) and ``panel serve``. The script watches the stamp files make writes to split the
total into these phases, then stops the server (the process group it started) and removes the
clone. It takes minutes and needs the package index; run it by hand.

    python benchmarks/clone_to_demo.py                      # clones this checkout's current branch
    python benchmarks/clone_to_demo.py --source https://example.org/radioexplore.git --branch main
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from _common import ROOT, header, load


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def current_branch(repo: Path) -> str:
    out = subprocess.run(["git", "-C", str(repo), "branch", "--show-current"], capture_output=True, text=True)
    return out.stdout.strip() or "main"


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default=str(ROOT), help="repository to clone (default: this checkout)")
    p.add_argument("--branch", help="branch to clone (default: this checkout's current branch)")
    p.add_argument("--port", type=int, help="port to serve on (default: a free one)")
    p.add_argument("--timeout", type=float, default=3600, help="give up after this many seconds")
    p.add_argument("--keep", action="store_true", help="keep the clone (its .venv and runs/demo)")
    args = p.parse_args()
    branch = args.branch or current_branch(Path(args.source))
    port = args.port or free_port()
    header(f"fresh clone to served demo: {args.source} ({branch}), port {port}")
    work = Path(tempfile.mkdtemp(prefix="radioexplore-clone-"))
    clone = work / "radioexplore"
    log_path = work / "make.log"
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    proc = None
    try:
        subprocess.run(["git", "clone", "--quiet", "--branch", branch, args.source, str(clone)], check=True)
        marks["git clone"] = time.perf_counter() - t0
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                ["make", "demo", f"PORT={port}", f"PYTHON={shutil.which('python3') or sys.executable}"],
                cwd=clone,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        url = f"http://localhost:{port}/app"
        watch = {"make install": clone / ".venv" / ".installed", "radioexplore demo": clone / "runs/demo/scores"}
        while True:
            now = time.perf_counter() - t0
            for name, path in watch.items():
                if name not in marks and path.exists():
                    marks[name] = now
                    print(f"{name} done at {now:.0f} s ({load()})", flush=True)
            if http_ok(url):
                marks["served (HTTP 200)"] = time.perf_counter() - t0
                break
            if proc.poll() is not None:
                print(f"error: make demo exited with {proc.returncode}; the end of {log_path}:", file=sys.stderr)
                print(log_path.read_text()[-3000:], file=sys.stderr)
                return 1
            if now > args.timeout:
                print(f"error: no HTTP 200 from {url} after {args.timeout:.0f} s", file=sys.stderr)
                return 1
            time.sleep(2)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("| phase | done at (s) | took (s) |")
    print("| --- | ---: | ---: |")
    last = 0.0
    for name, at in sorted(marks.items(), key=lambda kv: kv[1]):
        print(f"| {name} | {at:.0f} | {at - last:.0f} |")
        last = at
    print(f"fresh clone to served demo: {marks['served (HTTP 200)'] / 60:.1f} min ({load()} at the end)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
