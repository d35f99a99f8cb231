"""One notation and one glossary across the book.

The notation page promises one symbol, one meaning: no symbol may appear in two rows, and no row
may scope its meaning to some chapters ("(chapter 10) ..."), which is how two meanings used to
hide. The chapters may not use the retired symbols, and every glossary term's first use in each
chapter is a link to the glossary.
"""

import json
import re
from pathlib import Path

import claims_ledger  # book/_ext, on the test path (pyproject)
import glossary_terms
import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]*_*.ipynb"))


def _split_top(text: str) -> list[str]:
    """Split at commas outside braces and parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "({[" and 1 or ch in ")}]" and -1 or 0
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def notation_rows() -> list[tuple[str, str]]:
    """(symbol cell, meaning cell) of every row of the notation tables."""
    rows = []
    for line in (BOOK / "notation.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and cells[0] not in ("Symbol", "---"):
            rows.append((cells[0], cells[1]))
    return rows


def symbols(cell: str) -> list[str]:
    """The symbols a row defines: each $...$ piece, split at top-level commas, left of = or in."""
    found = []
    for math in re.findall(r"\$([^$]+)\$", cell):
        for piece in _split_top(math):
            name = re.split(r"=|\\in\b", piece)[0]
            name = re.sub(r"\s+", "", name)
            if name and name != r"\dots":
                found.append(name)
    return found


def test_notation_symbols_have_one_meaning():
    seen: dict[str, str] = {}
    clashes = []
    for sym_cell, meaning in notation_rows():
        for s in symbols(sym_cell):
            if s in seen:
                clashes.append(f"{s}: {seen[s]!r} and {meaning!r}")
            seen.setdefault(s, meaning)
    assert len(seen) > 60, "the notation tables were not read"
    assert not clashes, "symbols with two meanings on the notation page:\n" + "\n".join(clashes)


def test_no_meaning_is_scoped_to_some_chapters():
    scoped = [m for _, m in notation_rows() if re.match(r"\(chapters? \d", m)]
    assert not scoped, f"meanings scoped to chapters (a second meaning in disguise): {scoped}"


RETIRED = {
    r"\$M\$|\$V\$|\$M \\subset": "the masked / visible sets of patches are $\\mask$ and $\\vis$",
    r"\\rho_l|\\rho_\{l": "the relative update of block b is $\\delta_b$",
    r"\bC_l\b|C_\{l\}": "the weight-only bound of block b is $\\Gamma_b$",
    r"n_V\b|n_\{V\}": "the number of visible tokens is $n_{\\text{keep}}$",
    r"\\Pi_k": "only $\\Pi_0$ and $\\Pi_1$ are used",
    r"\\rho\(W\)": "the reach of a linear predictor is $\\operatorname{reach}(P)$",
    r"x_i, w_i": "quadrature nodes and weights are $\\xi_i, \\omega_i$",
}


def _math(nb: dict) -> str:
    md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return "\n".join(re.findall(r"\$\$.*?\$\$|\$[^$\n]+\$", md, flags=re.S))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_uses_no_retired_symbol(path):
    math = _math(json.loads(path.read_text(encoding="utf-8")))
    used = [f"{pat!r}: {fix}" for pat, fix in RETIRED.items() if re.search(pat, math)]
    assert not used, (f"{path.name} uses retired notation (see book/notation.md):\n"
                      + "\n".join(used))


def test_glossary_entries_are_read():
    groups = glossary_terms.glossary_groups()
    flat = [a for g in groups for a in g]
    assert len(groups) > 30 and len(flat) == len(set(flat))
    assert ("masked autoencoder", "MAE") in groups and ("masking ratio", "mask ratio") in groups


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_glossary_term_is_linked_at_its_first_use(path):
    missing = glossary_terms.unlinked_first_uses(path)
    assert not missing, (f"{path.name}: link these first uses to the glossary (or run "
                         f"`python book/_ext/glossary_terms.py {path.relative_to(ROOT)}`):\n"
                         + "\n".join(missing))


def test_the_linker_links_the_first_use_only_and_skips_code_math_and_headings(tmp_path):
    groups = [("masked autoencoder", "MAE"), ("patch",), ("mask token",), ("token",)]
    cells = ["# A patch in a heading", "We cut `patch` and $patch$ into patches; a patch again.",
             "A mask token, then a token, then an MAE."]
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": c} for c in cells]}
    f = tmp_path / "ch.ipynb"
    f.write_text(json.dumps(nb))
    assert len(glossary_terms.unlinked_first_uses(f, groups)) == 4
    assert glossary_terms.link_first_uses(f, groups) == 4
    out = ["".join(c["source"]) for c in json.loads(f.read_text())["cells"]]
    assert out[0] == cells[0]
    assert out[1] == "We cut `patch` and $patch$ into {term}`patches <patch>`; a patch again."
    assert out[2] == ("A {term}`mask token`, then a {term}`token`, then an "
                      "{term}`MAE <MAE>`.".replace("{term}`MAE <MAE>`", "{term}`MAE`"))
    assert glossary_terms.unlinked_first_uses(f, groups) == []


def test_every_cited_claim_exists():
    """The {claim} role fails the build on an unknown key; this says which key, without a build."""
    keys = {r["key"] for p in CHAPTERS for r in claims_ledger.claims_in_notebook(p)}
    cited = {}
    for page in [*BOOK.glob("*.md"), *CHAPTERS]:
        text = page.read_text(encoding="utf-8")
        for key in re.findall(r"\{claim\}`([^`]+)`", text):
            cited.setdefault(key.strip(), page.name)
    unknown = {k: v for k, v in cited.items() if k not in keys}
    assert cited, "no page cites a claim; the design guide should"
    assert not unknown, f"cited claims that no chapter declares: {unknown}"
