"""The chapters teach in the book's order: a picture before each theorem, proofs folded away,
the package's code shown where its numbers are used, exercises that train a variant after a
prediction, and figures that fit the page.
"""

import base64
import json
import re
import struct
from pathlib import Path

import pytest

from mae_theory.plotting.style import BOOK_STYLE, PAGE_WIDTH_IN

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]*_*.ipynb"))
IDS = [p.stem for p in CHAPTERS]
LOOK_BACK = 4  # cells before a theorem in which its picture must appear
PNG_KEYS = ("image/png", "application/papermill.record/image/png")  # shown, or glued for a caption


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _text(cell) -> str:
    return "".join(cell["source"])


def _has_picture(cell) -> bool:
    if cell["cell_type"] == "code":
        return any(k in o.get("data", {}) for o in cell.get("outputs", [])
                   for k in (*PNG_KEYS, "image/svg+xml"))
    return bool(re.search(r"\{glue:figure\}|\{figure\}|!\[", _text(cell)))


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_proof_is_folded_into_a_dropdown(path):
    open_proofs = []
    for i, cell in enumerate(_cells(path)):
        for m in re.finditer(r"(`{3,}|:{3,})\{prf:proof\}[^\n]*\n((?::\w+:.*\n)*)", _text(cell)):
            if "dropdown" not in m.group(2):
                open_proofs.append(i)
    assert not open_proofs, (f"{path.name}: proofs in cells {open_proofs} are not dropdowns; add "
                             "`:class: dropdown` so the reader meets the idea before the proof")


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_theorem_comes_after_a_picture(path):
    cells = _cells(path)
    bare = []
    for i, cell in enumerate(cells):
        text = _text(cell)
        for m in re.finditer(r"\{prf:(theorem|proposition|lemma)\}", text):
            before = cells[max(0, i - LOOK_BACK):i]
            inline = _has_picture({"cell_type": "markdown", "source": text[:m.start()]})
            if not (inline or any(_has_picture(c) for c in before)):
                bare.append(i)
    assert not bare, (f"{path.name}: the theorems or propositions in cells {bare} have no "
                      f"picture in the {LOOK_BACK} cells before it; show one and say why it "
                      "matters first")


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_chapter_shows_the_code_its_numbers_come_from(path):
    shown = [t for c in _cells(path) for t in re.findall(r":pyobject: (\S+)", _text(c))]
    assert shown, (f"{path.name} opens no black box: literalinclude the core of the helper its "
                   "verdicts come from, with :pyobject:")


def _exercises(cells):
    """(exercise text, solution cells) for every exercise of a chapter."""
    text_of = {}
    for c in cells:
        for m in re.finditer(r"\{exercise\}([^\n]*)\n:label: (\S+)\n(.*?)\n(`{3,}|:{3,})\s*$",
                             _text(c), flags=re.S | re.M):
            text_of[m.group(2)] = m.group(1) + "\n" + m.group(3)
    for label, text in text_of.items():
        marker = re.compile(r"\{solution-start\} " + re.escape(label) + r"\b")
        start = next((i for i, c in enumerate(cells) if marker.search(_text(c))), None)
        if start is None:
            yield label, text, []
            continue
        after = _text(cells[start])[marker.search(_text(cells[start])).end():]
        end = start if "{solution-end}" in after else next(
            (i for i in range(start + 1, len(cells)) if "{solution-end}" in _text(cells[i])),
            len(cells) - 1)
        yield label, text, cells[start:end + 1]


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_chapter_has_an_exercise_that_predicts_then_trains_a_variant(path):
    worked = [label for label, text, sol in _exercises(_cells(path))
              if re.search(r"\bpredict", text, re.I)
              and any(c["cell_type"] == "code" for c in sol)
              and any("What you should have seen" in _text(c) for c in sol)]
    assert worked, (f"{path.name}: no exercise asks for a prediction and has a worked solution "
                    "that runs (code cells) and says what the reader should have seen")


def _png_width(b64: str) -> int:
    head = base64.b64decode(b64[:64])
    return struct.unpack(">I", head[16:20])[0]


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_figures_fit_the_page_at_the_book_dpi(path):
    limit = PAGE_WIDTH_IN * BOOK_STYLE["figure.dpi"] * 1.1  # tight bounding boxes add a margin
    wide = []
    for i, cell in enumerate(_cells(path)):
        for out in cell.get("outputs", []):
            for key in PNG_KEYS:
                png = out.get("data", {}).get(key)
                if png and _png_width("".join(png) if isinstance(png, list) else png) > limit:
                    wide.append(i)
    assert not wide, (f"{path.name}: figures in cells {wide} are wider than {PAGE_WIDTH_IN} in at "
                      f"{BOOK_STYLE['figure.dpi']} dpi; the page would shrink their labels below "
                      "9 pt")


def test_folded_proofs_get_a_title_and_their_own_ids():
    """The theme folds an admonition through its title and finds it by id: sphinx-proof gives
    neither (no title, every proof id "proof"), so two folded proofs on a page would not fold."""
    import proof_dropdowns as ext  # book/_ext, on the test path (pyproject)
    from docutils import nodes

    doc = nodes.document(None, None)
    for text in ("Proof. First.", "Proof. Second."):
        doc += nodes.admonition("", nodes.paragraph(text=text),
                                classes=["proof", "proof", "dropdown"], ids=["proof"])
    doc += nodes.admonition("", nodes.paragraph(text="Proof. Open."), classes=["proof"],
                            ids=["proof"])
    ext.title_folded_proofs(None, doc)
    folded, open_ = list(doc.findall(nodes.admonition))[:2], list(doc.findall(nodes.admonition))[2]
    assert [a["ids"] for a in folded] == [["proof-1"], ["proof-2"]]
    assert all(isinstance(a[0], nodes.title) and a[0].astext() == "Proof" for a in folded)
    assert [a[1].astext() for a in folded] == ["First.", "Second."]
    assert open_["ids"] == ["proof"] and open_[0].astext() == "Proof. Open."
