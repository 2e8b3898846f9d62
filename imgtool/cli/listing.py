"""docker's `--format` for listings (images, ps, history): table, json, `table TEMPLATE`, TEMPLATE.

docker renders each row of a listing through a Go template: `--format json` is `{{json .}}` (one
JSON object per line), `table TEMPLATE` adds a header row (the column names rendered through the
same template) and aligns the cells with Go's tabwriter. Doing it once here keeps the three
listings' output, and scripts written against docker's, the same.
"""

from __future__ import annotations

from typing import Any


def tabwriter(lines: list[str], minwidth: int = 10, padding: int = 3) -> list[str]:
    """Go's tabwriter as docker configures it: tab-separated cells padded to the column width + 3."""
    rows = [line.split("\t") for line in lines]
    width: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            width[i] = max(width.get(i, 0), len(cell) + padding, minwidth)
    return ["".join(cell.ljust(width[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)).rstrip()
            for row in rows]


def render(rows: list[dict[str, Any]], fmt: str | None, default: str, headers: dict[str, str]) -> list[str]:
    """The lines docker prints for `rows` under `--format fmt` (`default` is the table template)."""
    from imgtool.inspect.gotemplate import Template

    if fmt == "json":
        fmt = "{{json .}}"
    if fmt is None or fmt == "table":
        fmt = default
    fmt = fmt.replace("\\t", "\t").replace("\\n", "\n")  # docker's escapes in a shell-quoted --format
    table = fmt.startswith("table")
    template = Template(fmt[len("table"):].lstrip() if table else fmt)
    lines = [template.render(row) for row in rows]
    if table:
        lines = tabwriter([template.render(headers)] + lines)
    return lines
