"""Sphinx extension: leave sphinx-thebe's scripts and styles out of every page.

Jupyter Book 1 always loads sphinx-thebe, but this book runs no live code;
sphinx-thebe 0.3 also declares its configuration twice on each page, which
the browser reports as an error, and names an external script. Without it no
page refers to anything outside the book.
"""


def _is_thebe(asset) -> bool:
    return "thebe" in str(asset.filename or "") or "THEBE" in asset.attributes.get("body", "")


def drop_thebe(app, pagename, templatename, context, doctree):
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def setup(app):
    app.connect("html-page-context", drop_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
