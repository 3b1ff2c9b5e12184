"""Great Expectations' own Data Docs for the batches the validate stage checked.

GX builds Data Docs from the validation results in a file data context's stores, so each batch is
validated once more here with the contract's suite (the expectations `validate` applies to it, the
period parameter filled from the file name) through a checkpoint, in a throw-away file context, and
`build_data_docs` writes the static site into the target directory. The numbers are GX's; the site's
own Data page shows the validate stage's report.

GX's page templates load jQuery, Bootstrap, Vega and a logo from CDNs; `localise` removes every
script and every reference outside the site, so the pages render from their own HTML and local
stylesheet (GX renders the content server-side; the scripts only add table filtering) and
viewing them sends nothing anywhere.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError

SITE_NAME = "site"
EXTERNAL = r"""(?:https?:)?//[^"']*"""
PATTERNS = [
    (re.compile(r"<script\b.*?</script>", re.S | re.I), ""),
    (re.compile(rf"""<link\b[^>]*href=["']{EXTERNAL}["'][^>]*>""", re.I), ""),
    (re.compile(rf"""<img\b[^>]*src=["']{EXTERNAL}["'][^>]*>""", re.I), ""),
    (re.compile(r"<form\b.*?</form>", re.S | re.I), ""),
    (re.compile(r"<footer\b.*?</footer>", re.S | re.I), ""),  # GX's newsletter banner
    (re.compile(rf"""(<a\b[^>]*?)\s+href=["']{EXTERNAL}["']""", re.I), r"\1"),
    (re.compile(rf"""url\(["']?{EXTERNAL}["']?\)""", re.I), "none"),
]


def localise(root: Path) -> None:
    """Strip scripts and every reference outside the site from GX's HTML and CSS (in place). GX's
    index fills its tables with those scripts: it goes, and links to it lead to the site's Data page."""
    (root / "index.html").unlink(missing_ok=True)
    for path in [*root.rglob("*.html"), *root.rglob("*.css")]:
        text = path.read_text(encoding="utf-8")
        for pattern, repl in PATTERNS:
            text = pattern.sub(repl, text)
        # GX links validation pages' favicon one level short: every static path made relative anew
        static = os.path.relpath(root / "static", path.parent)
        text = re.sub(r"""(href|src)=["'](?:\.\./|\./)*static/""", rf'\1="{static}/', text)
        if path.suffix == ".html":  # the site's stylesheet and GX's own local one, in place of the CDNs'
            site_css = os.path.relpath(root.parent / "style.css", path.parent)
            text = re.sub(r"<head>", f'<head><link rel="stylesheet" href="{site_css}"><link rel="stylesheet" '
                          f'href="{static}/styles/data_docs_default_styles.css">', text, count=1)
        data_page = os.path.relpath(root.parent / "data.html", path.parent)
        text = re.sub(r"""href=["'](?:\.\./|\./)*index\.html["']""", f'href="{data_page}#contract"', text)
        path.write_text(text, encoding="utf-8")
    pages = "".join(p.read_text(encoding="utf-8") for p in [*root.rglob("*.html"), *root.rglob("*.css")])
    for asset in [p for p in (root / "static").rglob("*") if p.is_file()]:
        if asset.name not in pages:  # logos, fonts and GIFs that nothing left links to
            asset.unlink()


def newest_batches(params: dict[str, Any]) -> list[Path]:
    """The batches that get Data Docs: the newest `site.data_docs_batches` (null: all; 0: none, and GX
    is not even imported). GX validates each one again on every publish, so an unbounded history
    would make every promotion slower."""
    from pipeline import params as P
    from pipeline.core.files import batch_files

    limit = (params.get("site") or {}).get("data_docs_batches")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise PipelineError(f"params.yaml: site.data_docs_batches must be a whole number of at least 0 "
                            f"(0: no Data Docs) or null (all batches), not {limit!r}")
    if limit == 0:
        return []  # not even the batch folder is read: a checkout without its batches builds the site
    cfg = P.section(params, "data")
    files = batch_files(cfg["batches_dir"], cfg.get("pattern", "*.csv"))
    return files if limit is None else files[-limit:]


def build(params: dict[str, Any], target: Path,
          progress: Callable[[str], None] | None = None) -> dict[str, dict[str, str]]:
    """Write Data Docs for the newest batches (`newest_batches`) into `target`; returns per batch file
    its validation page and suite page, relative to `target`. `progress` hears of each batch (GX
    takes seconds per batch)."""
    import logging

    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from pipeline.core import expectations as E
    from pipeline.core import suite_checks as V
    from pipeline.core.file_contract import read_batch
    from pipeline.core.schema import from_params

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    schema = from_params(params)
    suite = E.load(E.suite_path(params))
    files = newest_batches(params)
    pages: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="gx-context-") as root:
        context = gx.get_context(mode="file", project_root_dir=root)
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        for site in list(context.get_config().data_docs_sites or {}):
            context.delete_data_docs_site(site)
        context.add_data_docs_site(SITE_NAME, {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(target.resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}})
        batch_def = context.data_sources.add_pandas("batches").add_dataframe_asset(
            "batch").add_batch_definition_whole_dataframe("whole file")
        for path in files:
            if progress:
                progress(path.as_posix())
            try:
                frame = read_batch(path)
            except PipelineError:
                continue  # a file GX cannot read: the site's own table shows the validate stage's error
            period = path.stem if V.PERIOD_NAME.match(path.stem) else None
            exps = V.applicable(suite, schema, list(frame.columns), True, period)
            gx_suite = context.suites.add(E.to_gx({"expectations": exps}, name=path.stem))
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=path.stem, data=batch_def, suite=gx_suite))
            checkpoint = context.checkpoints.add(gx.Checkpoint(
                name=f"contract {path.name}", validation_definitions=[definition],
                actions=[], result_format="SUMMARY"))
            checkpoint.run(batch_parameters={"dataframe": frame},
                           expectation_parameters={E.PERIOD_PARAMETER: [period]} if period else {})
            pages[path.as_posix()] = {"suite": f"expectations/{path.stem}.html"}
        context.build_data_docs(site_names=[SITE_NAME])
    localise(target)
    for name, page in pages.items():
        found = sorted((target / "validations" / Path(name).stem).rglob("*.html"))
        if not found or not (target / page["suite"]).exists():
            raise PipelineError(f"Great Expectations wrote no Data Docs page for {name} in {target}")
        page["validation"] = found[-1].relative_to(target).as_posix()
    return pages
