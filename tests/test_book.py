"""The committed chapters: executed, with every cell inside the one-minute budget.

`make book` renders the committed outputs and `make test` re-executes every chapter through nbval,
so the committed notebooks must come from a complete run (`make execute`) of the current package.
"""

import json
from datetime import datetime
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]*_*.ipynb"))  # 04b_, 04c_: sections between chapters
CELL_BUDGET_S = 60.0


def _seconds(meta: dict) -> float | None:
    t = meta.get("execution", {})
    start, end = t.get("iopub.execute_input"), t.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_is_executed_and_every_cell_fits_the_budget(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and c["source"]]
    assert code, f"{path.name} has no code cells"
    missing = [i for i, c in enumerate(code) if c.get("execution_count") is None]
    assert not missing, (f"{path.name}: code cells {missing} were never executed; run "
                         "`make execute` and commit the outputs.")
    times = {i: _seconds(c.get("metadata", {})) for i, c in enumerate(code)}
    untimed = [i for i, t in times.items() if t is None]
    assert not untimed, f"{path.name}: cells {untimed} have no execution timing (`make execute`)"
    slow = {i: round(t, 1) for i, t in times.items() if t > CELL_BUDGET_S}
    assert not slow, (f"{path.name}: cells over {CELL_BUDGET_S:.0f} s on the machine that "
                      f"executed them: {slow}. Move the training into the zoo or the cache.")


def _includes():
    import re

    for path in CHAPTERS:
        for cell in json.loads(path.read_text())["cells"]:
            text = "".join(cell["source"])
            for m in re.finditer(r"```\{literalinclude\} \.\./(\S+)\n((?::\w+:.*\n)*)", text):
                yield path.stem, m.group(1), dict(re.findall(r":(\w+): (.*)", m.group(2)))


INCLUDES = list(_includes())


@pytest.mark.parametrize("chapter,source,opts", INCLUDES,
                         ids=[f"{c}:{o.get('pyobject', s)}" for c, s, o in INCLUDES])
def test_included_source_exists_and_shows_code_not_a_cut_docstring(chapter, source, opts):
    import ast

    path = BOOK.parent / source
    assert path.exists(), f"{chapter} includes {source}, which does not exist"
    if "pyobject" not in opts:
        return
    name = opts["pyobject"].split(".")[-1]
    nodes = [n for n in ast.walk(ast.parse(path.read_text()))
             if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name]
    assert nodes, f"{chapter} includes {opts['pyobject']}, which is not in {source}"
    node = nodes[0]
    if "lines" not in opts or not ast.get_docstring(node):
        return
    start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    doc = node.body[0]
    inside = range(doc.lineno - start + 1, doc.end_lineno - start + 2)
    for part in opts["lines"].split(","):
        lo = int(part.split("-")[0])
        assert lo not in inside, (f"{chapter}: :lines: {opts['lines']} of {opts['pyobject']} "
                                  "starts inside its docstring; the source moved")
