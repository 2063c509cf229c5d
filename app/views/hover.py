"""One tooltip under the cursor: where points overlap, Bokeh otherwise stacks one tooltip per point
(and per layer) over the map. These HoloViews hooks limit a hover tool to its nearest point, or keep a
layer's hover tool (its columns stay in the page's data) without a tooltip of its own."""

from __future__ import annotations

from bokeh.models import HoverTool


def _hover_tools(plot) -> list[HoverTool]:
    tool = plot.handles.get("hover")
    return [tool] if isinstance(tool, HoverTool) else []


def one_tooltip(plot, _element) -> None:
    """HoloViews hook: the element's hover tool shows the first point under the cursor, not all of them."""
    for tool in _hover_tools(plot):
        tool.limit = 1


def no_tooltip(plot, _element) -> None:
    """HoloViews hook: the element's hover tool shows no tooltip (another layer's tooltip says it all)."""
    for tool in _hover_tools(plot):
        tool.tooltips = None
