"""Entry point of ``panel serve app/``: opens the run named by ``--args --run DIR``, $RADIOEXPLORE_RUN or the demo."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.dashboard import build_dashboard, resolve_run  # noqa: E402

build_dashboard(resolve_run(sys.argv[1:])).servable()
