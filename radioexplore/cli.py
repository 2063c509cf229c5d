"""The ``radioexplore`` command line: one sub-command per pipeline stage.

Each sub-command reads and writes a run directory (docs/architecture.md); run
``radioexplore COMMAND --help`` for its options.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import NoReturn

from radioexplore.commands import COMMAND_MODULES

#: What ``error_line`` adds after the path and the system's reason, by OS error type.
_OS_HINTS = {
    FileNotFoundError: "check the path",
    PermissionError: "choose a path you may use, or change its permissions",
    IsADirectoryError: "it is a folder; give a file",
}
#: A temporary file of ``radioexplore.run.atomic.atomic_path`` (``.NAME.PID.<random>.tmp``), named in errors as the NAME it stands for.
_ATOMIC_TMP = re.compile(r"^\.(?P<name>.+?)(?:\.\d+)?\.[^.]+\.tmp$")


class CliParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``error: ...`` line (exit 2), like the commands' own."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog="radioexplore", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages; tracebacks for errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_commands(sub)
    return parser


def configure_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Our INFO lines by default, DEBUG with -v, only WARNING and up with -q; other libraries' at WARNING unless -v.

    Third-party loggers (faiss's loader, numba, distributed, ...) log set-up chatter at INFO that
    says nothing about the user's data, so the root logger stays at WARNING and only the
    ``radioexplore`` loggers go lower.
    """
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.WARNING)
    ours = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.getLogger("radioexplore").setLevel(ours)
    if not verbose:
        # distributed sets its own loggers' levels (INFO) from the Dask config when imported
        import os

        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` reports a user's mistake (bad value, path or run) rather than a bug.

    Exceptions defined by radioexplore carry messages written for the user; a ValueError is a
    configuration that failed validation; an OSError is about a path the user gave.
    """
    if isinstance(exc, (ValueError, OSError)):
        return True
    return isinstance(exc, Exception) and type(exc).__module__.split(".")[0] == "radioexplore"


def _written_for_the_user(exc: BaseException) -> bool:
    """Whether radioexplore wrote ``exc``'s message: its own type, an OS error, or raised in radioexplore's code."""
    if isinstance(exc, OSError) or type(exc).__module__.split(".")[0] == "radioexplore":
        return True
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is None or str(tb.tb_frame.f_globals.get("__name__", "")).split(".")[0] == "radioexplore"


def error_line(exc: BaseException) -> str:
    """The one ``error: ...`` line for a user error: the message, or for an OS error the path, the reason and a hint."""
    if isinstance(exc, OSError) and exc.filename is not None:
        path = Path(exc.filename)
        tmp = _ATOMIC_TMP.match(path.name)
        if tmp:
            path = path.with_name(tmp["name"])
        if isinstance(exc, NotADirectoryError) or (isinstance(exc, FileExistsError) and path.is_file()):
            return f"error: {path}: a part of that path is a file, not a folder; choose another path"
        hint = next((h for t, h in _OS_HINTS.items() if isinstance(exc, t)), None)
        reason = (exc.strerror or str(exc)).rstrip(".").lower()
        return f"error: {path}: {reason}" + (f"; {hint}" if hint else "")
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if text.startswith("error: ") else f"error: {text}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except SystemExit as exc:
        if not isinstance(exc.code, str):
            raise
        print(error_line(ValueError(exc.code)), file=sys.stderr)  # a command's own "error: ..." line
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.verbose or not is_user_error(exc):
            raise
        hint = "" if _written_for_the_user(exc) else " (rerun with -v for the traceback)"
        print(error_line(exc) + hint, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
