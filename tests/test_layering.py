"""The library's layering: it never imports the app's GUI stack (shared/STYLE.md); its stages import downwards only."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "radioexplore"

#: The library's stages, low to high (docs/architecture.md, "Where things live"). A module may import its own
#: subpackage and any lower stage; never a higher stage, nor another subpackage of its own stage.
STAGES: tuple[tuple[str, ...], ...] = (
    # the package root, the registries' look-up, the shipped assets, KEY=VALUE settings on a command line
    ("radioexplore", "registry", "assets", "settings"),
    ("run",),  # the run directory: paths, tile store, tiling, labels, fan-out
    ("io",),  # FITS images, catalogues, fetching, sky context
    ("ingest",),  # wide-field images -> tiles: noise, scaling, detection, stamps
    ("simulation", "display"),  # the simulated sky; pixels for the eye
    ("models",),  # the networks and their checkpoints
    ("embed",),  # tiles -> vectors, attention, pixel statistics
    ("evaluation",),  # linear probes and the tables that judge embeddings
    ("ssl",),  # self-supervised pre-training, monitored by the probes
    ("space", "ranking"),  # neighbours and maps; what to look at first
    # diffuse emission (its input reads the noise from below and the ripple model of ranking/); what an
    # astronomer takes away: export, coverage, MOC, SAMP
    ("segmentation", "review"),
    ("demo",),  # the demo run, end to end
    ("commands",),  # the command-line sub-commands
    ("cli",),  # the command-line entry point
    ("__main__",),  # python -m radioexplore
)
STAGE_OF = {name: i for i, names in enumerate(STAGES) for name in names}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    """The subpackage (or top-level module) of the library that ``module`` belongs to; '' outside the library."""
    parts = module.split(".")
    if parts[0] != "radioexplore":
        return ""
    return parts[1] if len(parts) > 1 else "radioexplore"


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module that ``path`` imports, at any depth (functions, ``if TYPE_CHECKING:`` blocks), with its line."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            if base == "radioexplore":  # ``from radioexplore import ssl`` imports the subpackage
                found += [(f"radioexplore.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((base, node.lineno))
    return found


def _library_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_part_of_the_library_has_a_stage():
    parts = {_part(_module_name(p)) for p in _library_files()}
    missing = sorted(parts - set(STAGE_OF))
    assert not missing, (
        f"{', '.join('radioexplore/' + m for m in missing)}: no stage in STAGES of tests/test_layering.py; "
        "add it where its imports say"
    )


def test_stages_import_downwards_only():
    wrong = []
    for path in _library_files():
        module = _module_name(path)
        source = _part(module)
        for target, line in _imports(path):
            dest = _part(target)
            if not dest or dest == source or dest not in STAGE_OF:
                continue
            if STAGE_OF[dest] > STAGE_OF[source]:
                why = "a higher stage"
            elif STAGE_OF[dest] == STAGE_OF[source]:
                why = "another subpackage of its own stage"
            else:
                continue
            wrong.append(
                f"{path.relative_to(ROOT)}:{line}: {module} imports {target}: {why} "
                f"({source!r} is stage {STAGE_OF[source]}, {dest!r} stage {STAGE_OF[dest]})"
            )
    assert not wrong, "the library's stage order (tests/test_layering.py STAGES) is broken:\n" + "\n".join(wrong)


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


def test_the_architecture_page_lists_the_stages_in_this_order():
    """docs/architecture.md's "Where things live" has one row per subpackage with its stage number, as STAGES."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Where things live", 1)[1].split("\n#", 1)[0]
    documented = {}
    for row in re.findall(r"^\| (\d+) \| (.+?) \|", section, flags=re.M):
        for name in re.findall(r"\[`([^`]+)`\]", row[1]):
            documented[name.removesuffix("/").removesuffix(".py")] = int(row[0])
    expected = {name: stage for name, stage in STAGE_OF.items() if name != "radioexplore"}
    differ = sorted(
        f"{name}: page {documented.get(name, 'absent')}, STAGES {expected.get(name, 'absent')}"
        for name in set(documented) | set(expected)
        if documented.get(name) != expected.get(name)
    )
    assert not differ, "docs/architecture.md's stage table and STAGES of tests/test_layering.py differ: " + "; ".join(
        differ
    )
