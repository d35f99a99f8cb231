"""Glossary links at each term's first use in every chapter: the check and the fix.

The glossary (``book/glossary.md``) lists terms, some with aliases sharing one definition ("CKA" and
"centred kernel alignment"). In every chapter the first time any alias of a term appears in the
prose, it must be a ``{term}`` link. Prose means markdown outside headings, code, math, roles,
links, HTML and directive option lines. ``tests/test_notation.py`` runs :func:`unlinked_first_uses`
on every chapter; ``python book/_ext/glossary_terms.py book/NN_*.ipynb`` adds the missing links in
place (markdown only, so outputs stay as they are).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent.parent
AMBIGUOUS = {"reach"}
"""Aliases that are also ordinary English words: linked by hand, never required or added."""

# spans of a line that are not prose: roles with their argument, code, math, links, HTML
_SKIP = re.compile(r"\{[^}\s]+\}`[^`]*`|``[^`]*``|`[^`]*`"  # roles, code
                   r"|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)|<[^>]+>")  # math, link targets, HTML
_TERM_ROLE = re.compile(r"\{term\}`([^`]*)`")


def glossary_groups(path: Path = BOOK / "glossary.md") -> list[tuple[str, ...]]:
    """The glossary's entries, each as the tuple of its aliases (the names a {term} can use)."""
    text = path.read_text(encoding="utf-8")
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    groups, current = [], []
    for line in body.splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if line[0].isspace():  # a definition line ends the run of aliases above it
            if current:
                groups.append(tuple(current))
                current = []
            continue
        current.append(line.strip())
    if current:
        groups.append(tuple(current))
    return groups


def _pattern(alias: str) -> re.Pattern:
    name = re.sub(r"\s*\(.*\)$", "", alias)  # "parameter identifiability (of ...)" -> its name
    words = r"\s+".join(re.escape(w) for w in name.split())
    return re.compile(rf"(?<![\w-])({words})(?:s|es)?(?![\w-])", re.IGNORECASE)


def _prose_lines(markdown: str):
    """(line index, line) for the lines of a markdown cell that are prose."""
    fence, math = None, False
    for i, line in enumerate(markdown.splitlines()):
        s = line.strip()
        if math:
            math = not s.endswith("$$")
            continue
        if fence:
            closes = re.fullmatch(r"(`{3,}|:{3,})", s) and s.startswith(fence[0])
            if closes and len(s) >= len(fence[0]):
                fence = None
            elif fence[1] and not s.startswith(":"):
                yield i, line
            continue
        m = re.match(r"^(`{3,}|:{3,})\s*(\{([\w:-]+)\})?", s)
        if m:
            prose = bool(m.group(3)) and m.group(3) not in (
                "literalinclude", "code", "code-block", "code-cell", "math", "glossary")
            fence = (m.group(1), prose)
            continue
        if s.startswith("$$"):
            math = not (len(s) > 2 and s.endswith("$$"))
            continue
        if s.startswith(("#", ":", "%")) or re.fullmatch(r"\(.*\)=", s):
            continue
        yield i, line


def _first_uses(nb: dict, groups) -> dict:
    """For each glossary entry used in the chapter: (cell, line, start, end, alias, linked)."""
    found: dict[tuple, tuple] = {}
    for c, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for i, line in _prose_lines("".join(cell["source"])):
            for m in _TERM_ROLE.finditer(line):  # existing links count as uses
                target = m.group(1).split("<")[-1].rstrip(">").strip().lower()
                for g in groups:
                    if g not in found and target in (a.lower() for a in g):
                        found[g] = (c, i, m.start(), m.end(), None, True)
            blank = _SKIP.sub(lambda m: " " * len(m.group(0)), line)
            taken = []
            for g in sorted(groups, key=lambda g: -max(len(a) for a in g)):
                # longer terms first; their words are taken ("token" inside "mask token")
                hits = [(m.start(), m.end(), a) for a in g if a not in AMBIGUOUS
                        for m in _pattern(a).finditer(blank)
                        if not any(s < m.end() and m.start() < e for s, e in taken)]
                taken += [(s, e) for s, e, _ in hits]
                if hits and g not in found:
                    start, end, alias = min(hits)
                    found[g] = (c, i, start, end, alias, False)
    return found


def unlinked_first_uses(path: Path, groups=None) -> list[str]:
    """The terms whose first use in a chapter is not a {term} link, as readable strings."""
    groups = glossary_groups() if groups is None else groups
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return [f"{g[0]!r} first used unlinked in cell {c}, line {i + 1}"
            for g, (c, i, _, _, _, linked) in _first_uses(nb, groups).items() if not linked]


def link_first_uses(path: Path, groups=None) -> int:
    """Rewrite a chapter so every term's first use is a {term} link; returns how many it added."""
    groups = glossary_groups() if groups is None else groups
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    todo = sorted(((c, i, s, e, a) for c, i, s, e, a, linked in _first_uses(nb, groups).values()
                   if not linked), reverse=True)  # right to left keeps earlier offsets valid
    for c, i, s, e, alias in todo:
        cell = nb["cells"][c]
        lines = "".join(cell["source"]).split("\n")
        text = lines[i][s:e]
        role = (f"{{term}}`{text}`" if text.lower() == alias.lower()
                else f"{{term}}`{text} <{alias}>`")
        lines[i] = lines[i][:s] + role + lines[i][e:]
        src = "\n".join(lines)
        cell["source"] = src.splitlines(keepends=True)
    if todo:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(todo)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {link_first_uses(Path(name))} links added")
