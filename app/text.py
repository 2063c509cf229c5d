"""Outside text made safe for the page: the one place strings from a URL, a FITS header, a file
name or the tile table are escaped before they reach Panel's Markdown, an Alert, a widget that
shows HTML or the page title.

Panel renders Markdown with raw HTML allowed, links built from ``[..](..)``, bare domains turned
into links, ``$..$`` as math and ``:name:`` as emoji. :func:`md_text` writes every character that
could start any of these (and ``< > &``) as a numeric character reference, which Markdown shows
as that literal character and never reads as markup; the first character of a line too, unless
it is a letter or digit, so no value can start a heading, a list, a quote or a code block.
"""

from __future__ import annotations

import html
import re

#: Characters Markdown (with Panel's plugins) or HTML could read as markup anywhere in a line.
#: ``.`` ``:`` and ``@`` stop the linkifier from turning a domain, URL or e-mail address into a link.
SPECIAL = frozenset("\\`*_{}[]()<>&!|~$:^@.")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _ref(char: str) -> str:
    return f"&#{ord(char)};"


def md_text(value: object) -> str:
    """``value`` as literal text inside one line of Markdown (a table cell, a sentence): line
    breaks become spaces, markup characters become character references."""
    text = _CONTROL.sub("", _LINE_BREAK.sub(" ", str(value)))
    out = "".join(_ref(c) if c in SPECIAL else c for c in text)
    if text and not text[0].isalnum() and text[0] not in SPECIAL:
        out = _ref(text[0]) + out[1:]
    return out


def md_lines(value: object) -> str:
    """Several lines of outside text (a status message) as Markdown, one hard line break between them."""
    return "  \n".join(md_text(line) for line in _LINE_BREAK.split(str(value)))


def md_code(value: object, table: bool = False) -> str:
    """``value`` as an inline code span (a path, a command): fenced with more backticks than it
    contains, so it cannot close the span; inside a code span Markdown reads no markup. In a table
    cell (``table``) a ``|`` would still end the cell, so it is escaped there."""
    text = _CONTROL.sub("", _LINE_BREAK.sub(" ", str(value)))
    if table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def html_text(value: object) -> str:
    """``value`` as text in HTML, for widgets that show their labels as HTML (Bokeh's MultiChoice)."""
    return html.escape(_CONTROL.sub("", str(value)), quote=True)


def plain_title(value: object) -> str:
    """``value`` for the page header, which Panel's template writes into HTML unescaped: the
    characters HTML reads as markup are replaced by lookalikes that it does not."""
    text = _CONTROL.sub("", _LINE_BREAK.sub(" ", str(value)))
    return text.translate(str.maketrans({"<": "‹", ">": "›", "&": "+", '"': "”", "'": "’"}))
