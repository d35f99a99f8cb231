"""Folded proofs that open: a title for every ``{prf:proof}`` with ``:class: dropdown``.

sphinx-proof renders a proof as an admonition without a title and writes "Proof. " into its
first paragraph. The theme's toggle button (sphinx-togglebutton) folds an admonition by adding its
button to the admonition's title, so a titleless folded proof raises a script error and cannot
be opened. This transform moves "Proof" into a title, which the button then carries.

sphinx-proof also gives every proof the same id, ``proof``. The toggle button finds what it
folds by id, so on a page with two folded proofs the first was folded twice (and so shown) and
the second never; each folded proof gets its own id, ``proof-1``, ``proof-2``, ...
"""

from __future__ import annotations

from docutils import nodes

LEAD = "Proof. "


def title_folded_proofs(app, doctree) -> None:
    count = 0
    for node in doctree.findall(nodes.admonition):
        classes = node.get("classes", [])
        if "proof" not in classes or "dropdown" not in classes:
            continue
        count += 1
        node["ids"] = [f"proof-{count}"]
        if node.children and isinstance(node.children[0], nodes.title):
            continue
        first = node.next_node(nodes.Text)
        if first is not None and str(first).startswith(LEAD):
            first.parent.replace(first, nodes.Text(str(first)[len(LEAD):]))
        node.insert(0, nodes.title("", "Proof"))


def setup(app):
    app.connect("doctree-read", title_folded_proofs)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
