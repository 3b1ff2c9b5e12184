"""One markdown document for the PR comment: verdict, champion vs challenger metrics with intervals,
validation, drift, params diff and data added against the base, figures. Stays under GitHub's
comment size limit."""

from __future__ import annotations

import argparse

from pipeline.config import REPORT_MD


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", help="git revision to diff params and data against "
                        "(default: the base of reports/comparison.json, else main)")
    parser.add_argument("-o", "--output", default=REPORT_MD.as_posix(), help="markdown file to write")
    parser.add_argument("--note", action="append", default=[],
                        help="a line to show under the verdict (repeatable), e.g. why a step was skipped")
    parser.add_argument("--image-base", help="URL the images are served from, e.g. "
                        "https://github.com/OWNER/REPO/blob/SHA (the commit holding them): links become "
                        "URL/<path>?raw=true, which works in private repositories (default: relative paths)")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipeline import params as P
    from pipeline.core.files import write_text
    from pipeline.gitops.report import build, link_images

    out = Path(args.output)
    text = build(P.load(args.params), args.params, out, args.base, args.note)
    if args.image_base:
        text = link_images(text, out, args.image_base)
    write_text(out, text)
    print(f"report: {text.splitlines()[0].lstrip('# ')} -> {out.as_posix()} ({len(text):,} characters)")
    return 0
