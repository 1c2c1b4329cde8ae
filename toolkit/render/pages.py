"""One entry point per rendered result, for every output format the CLI offers."""

from __future__ import annotations

from collections.abc import Callable

from toolkit.baseline.profiles import ProfileTable, version_map_text
from toolkit.render import drift as drift_render
from toolkit.render import html
from toolkit.render import profiles as profiles_render
from toolkit.stages.drift import Report

__all__ = ["RENDER_FORMATS", "drift_page", "profiles_page"]

RENDER_FORMATS = ("text", "markdown", "json", "html")


def profiles_page(table: ProfileTable, fmt: str) -> str:
    """The matrix as text, markdown, json (the version map itself) or a self-contained page."""
    if fmt == "json":
        return version_map_text(table)
    if fmt == "markdown":
        return profiles_render.render_markdown(table)
    if fmt == "html":
        return html.render_matrix_page(table)
    return profiles_render.render_text(table)


def drift_page(report: Report, fmt: str, grid: Callable[[], ProfileTable]) -> str:
    """The drift report; the html page also shows the profile grid (`grid()`) of every version."""
    if fmt == "json":
        return drift_render.render_json(report)
    if fmt == "markdown":
        return drift_render.render_markdown(report)
    if fmt == "html":
        return html.render_report(report, grid())
    return drift_render.render_text(report)
