"""Who labels in this session, and whether they may.

With a login configured on the server (``panel serve --basic-auth ...`` or ``--oauth-provider ...``)
the annotator is the logged-in user, ``pn.state.user``, and the page URL cannot change it. Without
one, it is ``?who=NAME`` from the URL or the server's login name, as on a laptop. Users named in
``--readonly-users`` (after ``--args``) or ``$RADIOEXPLORE_READONLY_USERS`` (comma separated; ``*``
for everyone) may look but not label; a session with a login but no user (a guest) may not either.
The refusal is in the label store the session writes through, not only in disabled buttons.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from radioexplore.run.labels.store import LabelStore
from radioexplore.run.labels.values import LabelError, default_who

READONLY_ENV = "RADIOEXPLORE_READONLY_USERS"
#: Annotator name of a session without a user on a server with a login (an OAuth guest).
GUEST = "guest"


@dataclass(frozen=True)
class Annotator:
    """The name written with this session's labels, and whether it may write any."""

    name: str
    can_label: bool = True
    logged_in: bool = False  # the name comes from the server's login, not from the URL
    why_not: str = ""


def readonly_users(argv: list[str], environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Users given ``--readonly-users a,b`` in ``argv`` (repeatable) and in ``$RADIOEXPLORE_READONLY_USERS``."""
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="panel serve app/ --args", add_help=False)
    parser.add_argument("--readonly-users", action="append", default=[])
    args, _ = parser.parse_known_args(argv)
    lists = [*args.readonly_users, environ.get(READONLY_ENV, "")]
    return frozenset(name.strip() for names in lists for name in names.split(",") if name.strip())


def annotator(login: bool, user: str | None, url_who: str | None, readonly: Iterable[str] = ()) -> Annotator:
    """The session's annotator: the logged-in ``user`` when the server has a login (``url_who`` is
    then ignored), else ``url_who`` or the server's login name; read-only when named in ``readonly``."""
    readonly = frozenset(readonly)
    if login:
        if not user:
            return Annotator(GUEST, can_label=False, logged_in=True, why_not="log in to label")
        name, logged_in = str(user), True
    else:
        name, logged_in = (url_who or "").strip() or default_who(), False
    if "*" in readonly or name in readonly:
        return Annotator(name, can_label=False, logged_in=logged_in, why_not=f"{name} has read-only access")
    return Annotator(name, can_label=True, logged_in=logged_in)


def session_annotator(argv: list[str], environ: Mapping[str, str] | None = None) -> Annotator:
    """:func:`annotator` for the current Panel session (its login, user and ``?who=``)."""
    import panel as pn

    login = bool(pn.config.basic_auth or pn.config.oauth_provider)
    args = getattr(pn.state, "session_args", None) or {}
    values = args.get("who")
    url_who = values[0].decode("utf-8", errors="replace") if values else None
    return annotator(login, pn.state.user if login else None, url_who, readonly_users(argv, environ))


class ReadOnlyLabelStore(LabelStore):
    """A label store that reads like any other and refuses every write with the reason."""

    def __init__(self, *args, why_not: str = "read-only access", **kwargs) -> None:
        self.why_not = why_not
        super().__init__(*args, **kwargs)

    def _refuse(self, *_args, **_kwargs):
        raise LabelError(f"{self.why_not}: this session may look but not label")

    add = add_many = undo = import_csv = _refuse
