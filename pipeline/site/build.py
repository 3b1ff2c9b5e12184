"""`python -m pipeline site -o DIR`: a static site of the registry, the monitoring and the data contract.

Built from the repository itself (version tags, model cards and reports at each version's commit,
the monitoring history and its git log, the validate and drift reports) into plain HTML with inline
SVG charts and one stylesheet: no script, font or file from anywhere else, so it can be opened from
disk or served privately (GitHub Pages of a private repository). The directory is written next to
DIR and swapped in at the end: a failed build leaves the previous site as it was.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError


def build(params: dict[str, Any], out: Path, monitoring_ref: str | None = None, gx_docs: bool = True,
          progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write the site into `out` (replaced whole); returns what was written, for the command to print.
    `progress` hears of each batch Great Expectations validates for its Data Docs."""
    from pipeline.core.git import git
    from pipeline.site import collect, render

    if monitoring_ref is not None and git("rev-parse", "--verify", "--quiet",
                                                  f"{monitoring_ref}^{{commit}}", check=False) == "":
        raise PipelineError(f"--monitoring-ref '{monitoring_ref}': unknown git revision (fetch it first, "
                            f"e.g. `git fetch origin {monitoring_ref}`)")
    reg = collect.registry(params)
    mon = collect.monitoring(monitoring_ref)
    data = collect.data_reports()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        gx_batches: dict[str, dict[str, str]] = {}
        if gx_docs:
            from pipeline.site import gxdocs

            gx_batches = gxdocs.build(params, tmp / "gx", progress)
        env = render.environment()
        prod = next((v for v in reg["versions"] if v["current"]), None)
        periods = (mon["latest"] or {}).get("periods") or []
        common = {"model": reg["model"], "reg": reg, "mon": mon, "root": "", "gx_docs": gx_batches,
                  "commit": git("rev-parse", "HEAD", check=False).strip() or "?",
                  "built": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}
        pages = {
            "index.html": {"title": "Home", "prod_version": prod,
                           "key_metrics": render.key_metrics(params, reg, prod, mon["latest"]),
                           "latest_period": next((p for p in reversed(periods) if p.get("labelled_rows")),
                                                 None),
                           "latest_estimate": render.estimate(periods[-1] if periods else None)},
            "registry.html": {"title": "Registry", "timeline_svg": render.timeline_svg(reg)},
            "monitoring.html": {"title": "Monitoring", "source": monitoring_ref,
                                **render.monitoring_charts(mon)},
            "data.html": {"title": "Data", "val": data["validation"], "drift": data["drift"],
                          "drift_rows": render.drift_rows(data["drift"])},
        }
        written = []
        for name, ctx in pages.items():
            _write(tmp / name, env.get_template(name.replace(".html", ".html.j2")).render(
                **common, **ctx, page=name))
            written.append(name)
        for v in reg["versions"]:
            name = f"versions/{v['version']}.html"
            _write(tmp / name, env.get_template("version.html.j2").render(
                **{**common, **render.version_context(v, reg)}))
            written.append(name)
        shutil.copyfile(render.TEMPLATES / "style.css", tmp / "style.css")
        os.chmod(tmp, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"pages": written, "gx_batches": gx_batches, "versions": len(reg["versions"]),
            "prod": reg["prod"], "periods": len(mon["history"]), "runs": len(mon["runs"]),
            "files": sum(1 for p in out.rglob("*") if p.is_file()), "bytes": size}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
