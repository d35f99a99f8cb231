"""The claims ledger: one table of every verdict in the book, built from the chapters' outputs.

Each verdict box a chapter displays (:class:`mae_theory.verdicts.Verdict`) carries its record as
``<script type="application/json" class="mae-claim">`` inside the box's HTML. The
``claims-ledger`` directive reads the committed notebooks of the book, collects those records in
page order, and renders one row per claim: chapter, source, statement, prediction, rule, the
measured effect with its interval and ``n``, the verdict word, and a link to the box. Nothing in
the table is typed: a changed outcome changes the ledger at the next build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

RECORD = re.compile(r'<script type="application/json" class="mae-claim">(.*?)</script>', re.S)
COLUMNS = ("Ch.", "Source", "Claim", "Prediction", "Rule", "Measured", "Verdict")
WIDTHS = (4, 7, 24, 18, 17, 18, 12)


def claims_in_notebook(path: Path) -> list[dict]:
    """Every claim record in a notebook's outputs, in cell order.

    Examples
    --------
    >>> import tempfile
    >>> nb = {"cells": [{"cell_type": "code", "outputs": [{"data": {"text/html": [
    ...     '<div><script type="application/json" class="mae-claim">{"key": "k"}</script></div>'
    ...     ]}}]}]}
    >>> f = Path(tempfile.mkdtemp()) / "a.ipynb"
    >>> _ = f.write_text(json.dumps(nb))
    >>> claims_in_notebook(f)
    [{'key': 'k'}]
    """
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/html", "")
            text = "".join(text) if isinstance(text, list) else text
            found += [json.loads(m) for m in RECORD.findall(text)]
    return found


def measured(rec: dict) -> str:
    """The effect, its interval and n, as the ledger prints them."""
    lo, hi = rec["interval"]
    text = f"{rec['effect']:.3g} [{lo:.3g}, {hi:.3g}], n = {rec['n']}"
    if rec.get("controls"):
        text += "; controls: " + ", ".join(f"{k} {v['word']}" for k, v in rec["controls"].items())
    return text


class ClaimsLedger(SphinxDirective):
    """``.. claims-ledger::`` -- the table of every claim in the book's chapters."""

    has_content = False

    def run(self):
        env = self.env
        rows = []
        for docname in sorted(env.found_docs):
            path = Path(env.doc2path(docname))
            if path.suffix != ".ipynb":
                continue
            env.note_dependency(str(path))
            rows += [(docname, rec) for rec in claims_in_notebook(path)]
        counts = {w: sum(r["word"] == w for _, r in rows)
                  for w in ("confirmed", "not confirmed", "inconclusive")}
        summary = nodes.paragraph(text=f"{len(rows)} claims: " + ", ".join(
            f"{n} {w}" for w, n in counts.items()) + ".")
        table = nodes.table(classes=["claims-ledger"])
        group = nodes.tgroup(cols=len(COLUMNS))
        table += group
        group += [nodes.colspec(colwidth=w) for w in WIDTHS]
        head = nodes.thead()
        head += self._row([nodes.paragraph(text=c) for c in COLUMNS])
        body = nodes.tbody()
        for docname, rec in rows:
            uri = env.app.builder.get_relative_uri(env.docname, docname) + f"#claim-{rec['key']}"
            link = nodes.paragraph()
            link += nodes.reference("", rec["word"], refuri=uri, internal=True,
                                    classes=[f"verdict-{rec['word'].replace(' ', '-')}"])
            body += self._row([nodes.paragraph(text=str(rec["chapter"])),
                               nodes.paragraph(text=rec["source"]),
                               nodes.paragraph(text=rec["statement"]),
                               nodes.paragraph(text=rec["prediction"]),
                               nodes.paragraph(text=rec["rule"]),
                               nodes.paragraph(text=measured(rec)), link])
        group += [head, body]
        return [summary, table]

    @staticmethod
    def _row(cells):
        row = nodes.row()
        for content in cells:
            entry = nodes.entry()
            entry += content
            row += entry
        return row


def setup(app):
    app.add_directive("claims-ledger", ClaimsLedger)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
