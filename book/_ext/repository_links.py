"""The book's repository, Binder and Colab buttons, from one setting: ``repository.url``.

Jupyter Book spreads these buttons over three places in ``_config.yml`` (``repository.url``,
``html.use_repository_button`` and the service URLs under ``launch_buttons``), and a launch
button without a repository URL breaks the build. With this extension only ``repository.url``
decides: set to the public repository, the page header gets the repository button and the
Binder/Colab launch buttons; empty, it gets none of them (and no link to a repository that does
not exist). The download buttons (``.ipynb``, ``.pdf``) do not depend on it.
"""

from __future__ import annotations

# launch_buttons keys that make a button needing the repository
SERVICES = ("binderhub_url", "jupyterhub_url", "colab_url", "deepnote_url", "thebe")


def repository_buttons(theme_options: dict) -> dict:
    """Theme options with the repository-dependent buttons on or off, as ``repository_url`` says.

    Examples
    --------
    >>> opts = {"repository_url": "", "launch_buttons": {"binderhub_url": "https://b.org",
    ...                                                   "notebook_interface": "jupyterlab"}}
    >>> repository_buttons(opts)
    {'launch_buttons': {'notebook_interface': 'jupyterlab'}, 'use_repository_button': False}
    >>> repository_buttons({"repository_url": "https://github.com/o/r"})["use_repository_button"]
    True
    """
    out = dict(theme_options)
    url = str(out.pop("repository_url", "") or "").strip()
    if url:
        out["repository_url"] = url
        out["use_repository_button"] = True
        return out
    launch = {k: v for k, v in out.get("launch_buttons", {}).items() if k not in SERVICES}
    out["launch_buttons"] = launch
    out["use_repository_button"] = False
    for key in ("use_issues_button", "use_edit_page_button", "use_source_button"):
        if key in out:
            out[key] = False
    return out


def _apply(app, config) -> None:
    config.html_theme_options = repository_buttons(config.html_theme_options)


def setup(app):
    app.connect("config-inited", _apply)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
