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
                        help="skip Great Expectations' Data Docs (they re-validate every batch)")


def main(args: argparse.Namespace) -> int:
    from pipeline.site import cli

    return cli(args)
