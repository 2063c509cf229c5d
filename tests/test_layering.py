"""The library never imports the app's GUI stack (shared/STYLE.md)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_library_does_not_import_panel_holoviews_or_bokeh():
    modules = sorted(
        p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".") for p in (ROOT / "radioexplore").rglob("*.py")
    )
    modules = [m.removesuffix(".__init__") for m in modules if not m.endswith("__main__")]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in {'panel', 'holoviews', 'bokeh'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "", f"library imported {out.stdout.strip()}"
