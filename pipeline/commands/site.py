"""A self-contained static site built from this repository: the model in production and its metrics
against the floors, every registered version (model card, promotion report, production timeline),
the monitoring history (metrics per period with thresholds, the label-free estimate, drift per
feature, alerts over time), the data contract per batch and Great Expectations' Data Docs. Plain
HTML and inline SVG: nothing is loaded from elsewhere. Needs the version tags (`git fetch --tags`)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default="site",
                        help="directory to write (replaced whole; default site)")
    parser.add_argument("--monitoring-ref", help="git revision holding reports/monitoring/ (default "
                        "site.monitoring_ref in params.yaml; unset: the work tree and its history)")
    parser.add_argument("--no-gx-docs", action="store_true",
                        help="skip Great Expectations' Data Docs (they re-validate the newest "
                        "site.data_docs_batches batches; 0 there skips them too)")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipeline import params as P
    from pipeline.site.build import build
    from pipeline.site.gxdocs import newest_batches

    params = P.load(args.params)
    ref = args.monitoring_ref or (params.get("site") or {}).get("monitoring_ref") or None
    gx_docs = not args.no_gx_docs and bool(newest_batches(params))  # site.data_docs_batches: 0, none
    print(f"site: building into {args.output}" + (" (with Great Expectations Data Docs)" if gx_docs
                                                   else ""))
    result = build(params, Path(args.output), monitoring_ref=ref, gx_docs=gx_docs,
                   progress=lambda batch: print(f"  Great Expectations Data Docs: {batch}", flush=True))
    print(f"site: {len(result['pages'])} pages ({result['versions']} versions, prod "
          f"{result['prod'] or 'none'}), {result['periods']} monitored periods from {result['runs']} runs, "
          f"Data Docs for {len(result['gx_batches'])} batches; {result['files']} files, "
          f"{result['bytes'] / 1024:.0f} KiB in {args.output}/ (open {args.output}/index.html)")
    return 0
