"""The README and docs/ lead somewhere: their links, anchors and repository paths exist after every move."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]*)\)")
#: A path in backticks under one of the repository's own folders, without placeholders or globs.
PATH = re.compile(r"`((?:radioexplore|app|benchmarks|pipelines|tests|docs|assets)/[^`\s*<>{}]*)`")


def _anchors(doc: Path) -> set[str]:
    """GitHub's anchors of ``doc``'s headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", doc.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_links_and_anchors_resolve():
    broken = []
    for doc in DOCS:
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path).resolve() if path else doc
            if not dest.exists():
                broken.append(f"{doc.relative_to(ROOT)}: link to {target}: no {dest.relative_to(ROOT)}")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{doc.relative_to(ROOT)}: link to {target}: no heading #{anchor} there")
    assert not broken, "fix the link or the heading:\n" + "\n".join(broken)


def test_backticked_repository_paths_exist():
    missing = []
    for doc in DOCS:
        for path in PATH.findall(doc.read_text(encoding="utf-8")):
            if "NAME" not in path and not (ROOT / path.rstrip(".,:")).exists():
                missing.append(f"{doc.relative_to(ROOT)}: `{path}`")
    assert not missing, "paths the docs name that are not in the repository:\n" + "\n".join(missing)


def test_every_library_module_says_its_idea_first():
    """docs/architecture.md sends a newcomer to the first docstring line of each module as its index."""
    bare = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "radioexplore").rglob("*.py"))
        if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert not bare, f"modules without a docstring saying their idea: {bare}"
