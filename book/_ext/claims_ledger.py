"""The claims ledger: one table of every verdict in the book, built from the chapters' outputs.

Each verdict box a chapter displays (:class:`mae_theory.verdicts.Verdict`) carries its record as
``<script type="application/json" class="mae-claim">`` inside the box's HTML. The
``claims-ledger`` directive reads the committed notebooks of the book, collects those records in
page order, and renders one row per claim: chapter, source, statement, prediction, rule, the
measured effect with its interval and ``n``, the verdict word, and a link to the box. Nothing in
the table is typed: a changed outcome changes the ledger at the next build.

The ``claim`` role cites one verdict anywhere in the book, e.g. ``{claim}`ch4-t3-symmetry```: it
renders the verdict word, linked to its box, with the effect, interval and ``n``, read from the same
committed outputs. A key that no chapter declares is an error, so a renamed claim cannot leave a
stale citation behind.
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


WORDS = ("confirmed", "not confirmed", "inconclusive")


def book_records(env, *, note: bool = True) -> list[tuple[str, dict]]:
    """(docname, record) of every claim in the book's chapters, in page order.

    The notebooks are read once per build (cached on the Sphinx environment, keyed by their
    mtimes); with ``note`` the current page is rebuilt whenever any of them changes.
    """
    docs = sorted(d for d in env.found_docs if Path(env.doc2path(d)).suffix == ".ipynb")
    stamp = tuple((d, Path(env.doc2path(d)).stat().st_mtime_ns) for d in docs)
    cached = getattr(env, "_mae_claims", None)
    if cached is None or cached[0] != stamp:
        rows = [(d, rec) for d in docs for rec in claims_in_notebook(Path(env.doc2path(d)))]
        env._mae_claims = (stamp, rows)
    if note:
        for d in docs:
            env.note_dependency(env.doc2path(d))
    return env._mae_claims[1]


def _numbers(rec: dict) -> str:
    lo, hi = rec["interval"]
    return f"{rec['effect']:.3g} [{lo:.3g}, {hi:.3g}], n = {rec['n']}"


def _verdict_link(env, docname: str, rec: dict, child) -> nodes.reference:
    """A link to a claim's verdict box, styled by its verdict word."""
    uri = env.app.builder.get_relative_uri(env.docname, docname) + f"#claim-{rec['key']}"
    link = nodes.reference("", "", refuri=uri, internal=True,
                           classes=[f"verdict-{rec['word'].replace(' ', '-')}"])
    link += child
    return link


def measured(rec: dict) -> str:
    """The effect, its interval and n, as the ledger prints them."""
    text = _numbers(rec)
    if rec.get("controls"):
        text += "; controls: " + ", ".join(f"{k} {v['word']}" for k, v in rec["controls"].items())
    return text


class ClaimsLedger(SphinxDirective):
    """``.. claims-ledger::`` -- the table of every claim in the book's chapters."""

    has_content = False

    def run(self):
        env = self.env
        rows = book_records(env)
        counts = {w: sum(r["word"] == w for _, r in rows) for w in WORDS}
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
            link = nodes.paragraph()
            link += _verdict_link(env, docname, rec, nodes.Text(rec["word"]))
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


class ClaimsScorecard(SphinxDirective):
    """``.. claims-scorecard::`` -- verdicts counted per source of the claim (Kong, Cao, ...)."""

    has_content = False

    def run(self):
        counts: dict[str, dict[str, int]] = {}
        for _, rec in book_records(self.env):
            row = counts.setdefault(rec["source"], dict.fromkeys(WORDS, 0))
            row[rec["word"]] += 1
        table = nodes.table(classes=["claims-scorecard"])
        group = nodes.tgroup(cols=5)
        table += group
        group += [nodes.colspec(colwidth=w) for w in (16, 8, 10, 10, 10)]
        head = nodes.thead()
        head += ClaimsLedger._row([nodes.paragraph(text=c)
                                   for c in ("Source", "claims", *WORDS)])
        body = nodes.tbody()
        for source in sorted(counts, key=lambda s: -sum(counts[s].values())):
            row = counts[source]
            body += ClaimsLedger._row([nodes.paragraph(text=source),
                                       nodes.paragraph(text=str(sum(row.values())))]
                                      + [nodes.paragraph(text=str(row[w])) for w in WORDS])
        group += [head, body]
        return [table]


def claim_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{claim}`KEY``` -- the verdict word of claim KEY, linked to its box, with its numbers."""
    env = inliner.document.settings.env
    key = text.strip()
    claims = {rec["key"]: (d, rec) for d, rec in book_records(env, note=False)}
    if key not in claims:
        msg = inliner.reporter.error(
            f"claim {key!r} is declared by no chapter's verdict box; use one of the keys in the "
            f"claims ledger (book/claims.md), e.g. {sorted(claims)[:3]}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    docname, rec = claims[key]
    env.note_dependency(env.doc2path(docname))
    word = _verdict_link(env, docname, rec, nodes.strong(text=rec["word"]))
    return [word, nodes.Text(f" ({_numbers(rec)})")], []


def setup(app):
    app.add_directive("claims-ledger", ClaimsLedger)
    app.add_directive("claims-scorecard", ClaimsScorecard)
    app.add_role("claim", claim_role)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
