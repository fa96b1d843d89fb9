"""The diagnostics report: sections of text, tables and figures, written as ``report.md``
(figures linked, beside it) and ``report.html`` (self-contained: each figure embedded as
a data URI, no script, no outside link), both atomically.

A section is plain data (Section); the report writes itself in two formats from it, so
the two never say different things.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from gcm.io.atomic import atomic_path

STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;
padding:.25em .6em;text-align:left}th{background:#eee}img{max-width:100%;display:block;
margin:1em 0}.verdict{font-size:1.3em;font-weight:bold}.stable{color:#176b2c}
.drifting,.incomplete{color:#a86400}.unstable{color:#b00020}"""


@dataclass
class Section:
    """One part of the report: a title, paragraphs, tables (each a list of rows, the
    header row first) and the file names of figures in the report's directory."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[list[list[str]]] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)


def format_value(value) -> str:
    """A number for a table: 4 significant digits; other values as text."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.4g}"


def write_report(out: Path, title: str, verdict: str, sections: list[Section]) -> list[Path]:
    """Write ``out/report.md`` and ``out/report.html``; returns their paths. Every
    figure named by a section must exist in ``out``."""
    out = Path(out)
    for section in sections:
        for figure in section.figures:
            if not (out / figure).is_file():
                raise FileNotFoundError(f"report: figure {out / figure} was not written")
    paths = [out / "report.md", out / "report.html"]
    for path, text in zip(paths, (_markdown(title, verdict, sections),
                                  _html(out, title, verdict, sections)), strict=True):
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return paths


def _markdown(title: str, verdict: str, sections: list[Section]) -> str:
    lines = [f"# {title}", "", f"**Stability verdict: {verdict}**", ""]
    for s in sections:
        lines += [f"## {s.title}", ""]
        for p in s.paragraphs:
            lines += [p, ""]
        for table in s.tables:
            lines.append("| " + " | ".join(table[0]) + " |")
            lines.append("|" + "---|" * len(table[0]))
            lines += ["| " + " | ".join(row) + " |" for row in table[1:]]
            lines.append("")
        lines += [f"![{f}]({f})" for f in s.figures]
        lines.append("")
    return "\n".join(lines)


def _html(out: Path, title: str, verdict: str, sections: list[Section]) -> str:
    e = html.escape
    body = [f"<h1>{e(title)}</h1>",
            f'<p class="verdict {e(verdict)}">Stability verdict: {e(verdict)}</p>']
    for s in sections:
        body.append(f"<h2>{e(s.title)}</h2>")
        body += [f"<p>{e(p)}</p>" for p in s.paragraphs]
        for table in s.tables:
            rows = ["<tr>" + "".join(f"<th>{e(c)}</th>" for c in table[0]) + "</tr>"]
            rows += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                     for row in table[1:]]
            body.append("<table>" + "".join(rows) + "</table>")
        for f in s.figures:
            data = base64.b64encode((out / f).read_bytes()).decode("ascii")
            body.append(f'<img alt="{e(f)}" src="data:image/png;base64,{data}">')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{e(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
