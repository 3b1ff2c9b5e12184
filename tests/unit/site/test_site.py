"""The static site, as a person sees it: built for a replayed history, opened in headless Chromium.

The history is real: a temporary git + DVC repository, models fitted and committed the DVC way
(test_monitor's helpers), versions and stage assignments created by GTO with the tag messages
`promote` writes, three monthly monitoring runs (`pipeline.monitoring.run.run`) committed as the scheduled
workflow does. Story: v0.1.0 (PR #1) → a quiet month → v0.2.0 (the scheduled retraining's PR #2) →
two policy-change months (accuracy below its floor, ADWIN change point) → `git revert` of v0.2.0's
merge: prod rolls back to v0.1.0 → monitoring again. Then `python -m pipeline site` writes the site
and Debian's Chromium (driven by Playwright, never a downloaded browser) opens every page over HTTP,
as GitHub Pages serves it: screenshots, the rendered DOM, every link, console errors, requests.
SITE_SCREENSHOTS=DIR keeps the screenshots there (else in pytest's temporary directory).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.server
import os
import re
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

from tests.support.models import ROWS, add_months, commit_model, fit
from tests.support.project import cli, env, make_project, run, write_params

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MODEL = "credit-risk"


def register(project: Path, version: str, commit: str, rollback_from: str | None = None) -> None:
    """What `promote` does on main, through gto.api, with the same tag-message fields."""
    import gto.api

    from pipeline.gitops.registry import promoted_by

    with contextlib.chdir(project):
        fields = f"commit: {commit}\npromoted-by: {promoted_by(commit)}"
        if rollback_from:
            gto.api.assign(".", MODEL, "prod", version=version, force=True, simple=False,
                           message=f"{MODEL}: rollback to {version} (from {rollback_from})\n{fields}\n"
                                   f"version: {version}\nrollback-from: {rollback_from}")
            return
        gto.api.register(".", MODEL, commit, version=version,
                         message=f"{MODEL} {version}: new model\n{fields}")
        gto.api.assign(".", MODEL, "prod", version=version, simple=False,
                       message=f"{MODEL}: assign prod to {version}\n{fields}\nversion: {version}")


def monitor_and_commit(project: Path, now: dt.date) -> dict:
    from pipeline.monitoring.run import run as monitor_run
    from pipeline.params import load

    with contextlib.chdir(project):
        report = monitor_run(load(project / "params.yaml"), now=now)
    run(["git", "add", "reports/monitoring"], project)
    run(["git", "commit", "-q", "-m", f"Monitoring {now:%Y-%m}: {report['decision']}"], project)
    return report


CARD_MD = ("# Model card: {target} classifier\n\n| metric | value |\n| --- | ---: |\n"
           "| accuracy | {acc:.4f} |\n")
# A PR report as CI would commit it: a fold, a figure and a link that are not part of the site
REPORT_MD = """## ✅ Promote: accuracy +0.0100

<details><summary>Per-class metrics</summary>

| class | F1 |
| --- | ---: |
| Alto | 0.81 |
</details>

![confusion matrices](compare/confusion.png) See [the run](https://github.com/acme/credit/actions/runs/1).
"""


def add_batches(project: Path, periods: list[str], scenario: str) -> None:
    add_months(project, periods, scenario)
    run(["git", "add", "data/batches"], project)
    run(["git", "commit", "-q", "-m", f"Add batches {', '.join(periods)}"], project)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict:
    """The replayed history (see the module docstring): the project and each monitoring report."""
    import json

    from pipeline.core.files import read_csv
    from pipeline.params import load

    base = tmp_path_factory.mktemp("site")
    runs = []
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env(base).items():
            if key.startswith(("DVC_", "GIT_")):
                mp.setenv(key, value)
        project = make_project(base, ["2024-01", "2024-02", "2024-03"], rows=ROWS)
        run(["git", "rm", "-q", "dvc.yaml"], project)  # models are `dvc add`ed here, as in test_monitor
        run(["git", "commit", "-q", "-m", "model registry layout for the test"], project)
        params = load(project / "params.yaml")

        def train(periods: list[str], message: str, report: str | None = None) -> str:
            files = [f"data/batches/{p}.csv" for p in periods]
            with contextlib.chdir(project):
                model = fit([read_csv(project / f) for f in files], params)
                if report:
                    (project / "reports").mkdir(exist_ok=True)
                    (project / "reports" / "report.md").write_text(report)
                commit = commit_model(project, model, files, message)
            card = json.loads((project / "models" / "model_card.json").read_text())
            (project / "models" / "model_card.md").write_text(CARD_MD.format(
                target=card["schema"]["target"], acc=card["metrics"]["test"]["accuracy"]))
            run(["git", "add", "models/model_card.md"], project)
            run(["git", "commit", "-q", "--amend", "--no-edit"], project)  # the card, as evaluate writes it
            return run(["git", "rev-parse", "HEAD"], project).stdout.strip() or commit

        first = train(["2024-01", "2024-02", "2024-03"], "Merge pull request #1 from acme/batch-2024-03")
        register(project, "v0.1.0", first)
        add_batches(project, ["2024-04"], "stable")
        runs.append(monitor_and_commit(project, dt.date(2024, 5, 2)))
        second = train(["2024-01", "2024-02", "2024-03", "2024-04"],
                       "Merge pull request #2 from acme/retrain/2024-05", report=REPORT_MD)
        register(project, "v0.2.0", second)
        add_batches(project, ["2024-05", "2024-06"], "policy_change")
        runs.append(monitor_and_commit(project, dt.date(2024, 7, 1)))
        assert runs[-1]["model"]["version"] == "v0.2.0" and runs[-1]["alerts"], runs[-1]["alerts"]
        run(["git", "revert", "--no-edit", second], project)  # the operator's rollback
        register(project, "v0.1.0", run(["git", "rev-parse", "HEAD"], project).stdout.strip(),
                 rollback_from="v0.2.0")
        add_batches(project, ["2024-09"], "salary_inflation")
        runs.append(monitor_and_commit(project, dt.date(2024, 10, 1)))
        assert runs[-1]["model"]["version"] == "v0.1.0"
        assert "data_drift" in {a["name"] for a in runs[-1]["alerts"]}, runs[-1]["alerts"]
    return {"project": project, "runs": runs}


@pytest.fixture(scope="module")
def site(history: dict) -> Path:
    project = history["project"]
    out = project / "public"
    cli(["validate"], project)  # reports/validation.json and drift.json, as `dvc repro` leaves them
    cli(["drift"], project)
    write_params(project, {"site": {"data_docs_batches": 4}})  # of seven batches
    proc = cli(["site", "-o", str(out)], project)
    assert "versions, prod v0.1.0" in proc.stdout, proc.stdout
    return out


@pytest.fixture(scope="module")
def server(site: Path):
    """The site over HTTP on localhost, as GitHub Pages serves it."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def crawl(browser, root: str, shots: Path) -> dict[str, dict]:
    """Open every page reachable from index.html; per page: requests, console errors, links, DOM."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    seen: dict[str, dict] = {}
    queue = [urljoin(root, "index.html")]
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        requests, errors = [], []
        page = context.new_page()
        page.on("request", lambda r, acc=requests: acc.append(r.url))
        page.on("console", lambda m, acc=errors: acc.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e, acc=errors: acc.append(str(e)))
        response = page.goto(url, wait_until="load")
        links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        name = url[len(root):].replace("/", "_") or "index.html"
        if not url.startswith(urljoin(root, "gx/")):
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        seen[url] = {"status": response.status if response else None, "requests": requests,
                     "errors": errors, "links": links, "ids": ids, "text": page.inner_text("body"),
                     "svgs": page.eval_on_selector_all(
                         "svg", "els => els.map(e => [e.getAttribute('role'), "
                                "e.querySelector('title') && e.querySelector('title').textContent])"),
                     "headerless_tables": page.eval_on_selector_all(
                         "main table", "els => els.filter(t => !t.querySelector('th')).length"),
                     "h1": page.eval_on_selector_all("h1", "els => els.length")}
        page.close()
        for link in links:
            target, _ = urldefrag(link)
            if target.startswith(root) and target.endswith(".html") and target not in seen:
                queue.append(target)
    context.close()
    return seen


@pytest.fixture(scope="module")
def pages(browser, server, tmp_path_factory) -> dict[str, dict]:
    shots = Path(os.environ.get("SITE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    return crawl(browser, server, shots)


@pytest.mark.slow
def test_every_page_loads_clean_and_stays_inside_the_site(pages, server, site):
    names = {u[len(server):] for u in pages}
    assert {"index.html", "registry.html", "monitoring.html", "data.html", "versions/v0.1.0.html",
            "versions/v0.2.0.html"} <= names, names
    assert any(n.startswith("gx/validations/") for n in names) and any(
        n.startswith("gx/expectations/") for n in names), names  # GX's own Data Docs, linked per batch
    for url, p in pages.items():
        assert p["status"] == 200, url
        assert p["errors"] == [], (url, p["errors"])
        outside = [r for r in p["requests"] if not r.startswith(server)]
        assert outside == [], (url, outside)
        for link in p["links"]:
            target, fragment = urldefrag(link)
            assert target.startswith(server), (url, link)
            path = site / urlparse(target).path.lstrip("/")
            assert path.is_file(), (url, link)
            if fragment and target in pages:
                assert fragment in pages[target]["ids"], (url, link)
    for url, p in pages.items():
        if "/gx/" in url:
            continue
        assert p["h1"] == 1 and p["headerless_tables"] == 0, url
        assert all(role == "img" and title for role, title in p["svgs"]), (url, p["svgs"])


@pytest.mark.slow
def test_data_docs_cover_the_newest_batches_only(site, history, monkeypatch):
    """GX re-validates each batch it documents, on every publish: `site.data_docs_batches` bounds it."""
    from pipeline.errors import PipelineError
    from pipeline.params import load
    from pipeline.site.gxdocs import newest_batches

    data = (site / "data.html").read_text()
    assert data.count(">results</a>") == 4 and "for the newest 4 batches" in data
    assert data.count("<td>–</td></tr>") == 3  # the three oldest rows: no Data Docs link
    documented = {p.stem for p in (site / "gx" / "expectations").glob("*.html")}
    assert documented == {"2024-04", "2024-05", "2024-06", "2024-09"}
    monkeypatch.chdir(history["project"])
    params = load("params.yaml")
    for bad in (-1, "all", True, 1.5):
        with pytest.raises(PipelineError, match="site.data_docs_batches must be a whole number"):
            newest_batches({**params, "site": {"data_docs_batches": bad}})
    assert len(newest_batches({**params, "site": {"data_docs_batches": None}})) == 7
    assert newest_batches({**params, "site": {"data_docs_batches": 0}}) == []
    unpulled = {**params, "data": {**params["data"], "batches_dir": "not-pulled"}}  # no batch files
    assert newest_batches({**unpulled, "site": {"data_docs_batches": 0}}) == []  # 0 reads no folder
    with pytest.raises(PipelineError, match="not-pulled: no batch files"):
        newest_batches({**unpulled, "site": {"data_docs_batches": 1}})


@pytest.mark.slow
def test_home_shows_prod_after_the_rollback(pages, server, history):
    home = pages[server + "index.html"]["text"]
    latest = history["runs"][-1]["periods"][-1]
    assert re.search(r"In stage prod\s+v0\.1\.0", home), home[:500]
    assert "rollback from v0.2.0" in home
    assert f"Estimated accuracy in {latest['period']}: {latest['estimated_accuracy']:.4f}" in home
    assert "✖ below floor" in home or "✔ above floors" in home
    assert "retrain" in home  # the latest run's decision


@pytest.mark.slow
def test_registry_shows_versions_how_and_the_rollback(pages, server):
    text = pages[server + "registry.html"]["text"]
    assert "v0.1.0" in text and "v0.2.0" in text
    assert "scheduled retraining" in text and "pull request" in text  # how v0.2.0 and v0.1.0 got there
    assert "↩ rollback from v0.2.0" in text
    assert re.search(r"v0\.1\.0 ★ prod", text), text
    assert "PR #2" in text and "Revert" in text  # who promoted: the merge, then the revert


@pytest.mark.slow
def test_monitoring_draws_thresholds_drift_and_alerts(pages, server, site, history):
    page = pages[server + "monitoring.html"]
    titles = [t for _, t in page["svgs"]]
    assert {"Accuracy per period", "Drift per feature and period", "Share of features drifted"} <= set(titles)
    html = (site / "monitoring.html").read_text()
    assert "accuracy alert floor" in html and "retrain below" in html  # thresholds drawn, labelled
    drifted = history["runs"][-1]["periods"][-1]["data_drift"]["drifted_features"]
    assert drifted and all(re.search(rf"<title>{f}, 2024-09: [0-9.]+ ▲</title>", html) for f in drifted)
    for report in history["runs"]:  # every run's alerts and decision, over time
        for alert in report["alerts"]:
            assert f"{alert['name']}: {alert['message']}" in page["text"], alert
    assert page["text"].count("v0.2.0") >= 2 and "2024-06" in page["text"]


@pytest.mark.slow
def test_version_page_renders_card_and_report_safely(pages, server, site):
    page = pages[server + "versions/v0.2.0.html"]
    assert "Model card: nivel_riesgo classifier" in page["text"]
    assert "Promote: accuracy +0.0100" in page["text"]
    assert "Per-class metrics" in page["text"] and "<details>" not in page["text"]
    assert "[figure: confusion matrices]" in page["text"] and "See the run" in page["text"]
    html = (site / "versions" / "v0.2.0.html").read_text()
    assert "github.com" not in html and "<h1" in html and html.count("<h1") == 1
    assert "No promotion report" in pages[server + "versions/v0.1.0.html"]["text"]


@pytest.mark.slow
def test_readable_on_a_phone(browser, server, tmp_path_factory):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    shots = Path(os.environ.get("SITE_SCREENSHOTS") or tmp_path_factory.mktemp("phone"))
    for name in ("index.html", "monitoring.html"):
        page.goto(server + name)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (name, overflow)  # wide tables scroll inside their own box
        page.screenshot(path=str(shots / f"phone_{name}.png"), full_page=True)
    context.close()


def test_fresh_clone_gets_placeholders_and_bad_ref_changes_nothing(project: Path):
    """No version, no monitoring yet: every page still renders and says what to run. An unknown
    monitoring ref is one clear error and leaves the previous site as it was. The test project's
    `site.data_docs_batches: 0` (tests/support/project.py) builds no Data Docs: GX is never imported."""
    out = project / "public"
    proc = run([sys.executable, "-X", "importtime", "-m", "pipeline", "site", "-o", str(out)], project)
    assert "prod none" in proc.stdout and "Data Docs for 0 batches" in proc.stdout
    assert "great_expectations" not in proc.stderr and not (out / "gx").exists()
    home = (out / "index.html").read_text()
    assert "No version is in stage <code>prod</code> yet" in home and "No monitoring run yet" in home
    assert "No monitoring history yet" in (out / "monitoring.html").read_text()
    assert "No <code>reports/validation.json</code>" in (out / "data.html").read_text()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = cli(["site", "-o", str(out), "--no-gx-docs", "--monitoring-ref", "no-such-ref"], project,
              check=False)
    assert bad.returncode == 2 and "--monitoring-ref 'no-such-ref': unknown git revision" in bad.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(x.name for x in project.iterdir() if x.name.startswith(".public")) == []


def test_committed_markdown_cannot_inject_html_or_leave_the_site():
    """A model card or report comes from a pull request: raw HTML stays text, links and images go."""
    from pipeline.site.render import markdown

    html = markdown('# Card\n\n<script>alert(1)</script>\n\n<img src="https://x.invalid/p.png">\n\n'
                    '[docs](https://x.invalid/) ![plot](plots/roc.png)\n\n'
                    '| a | b |\n| --- | ---: |\n| 1 | 2 |\n')
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img" not in html
    assert "href" not in html and "[figure: plot]" in html and "docs" in html
    assert "<h3>Card</h3>" in html and 'class="align-right"' in html and "style=" not in html


def test_estimate_interval_is_shown_whatever_shape_the_monitor_gives():
    from pipeline.site.charts import line_chart
    from pipeline.site.render import estimate

    assert estimate(None) is None
    assert estimate({"period": "2024-07", "estimated_accuracy": 0.86})["interval"] is None
    for extra in ({"estimated_accuracy_ci": [0.84, 0.88]},
                  {"estimated_accuracy_ci": {"low": 0.84, "high": 0.88, "confidence": 0.9}},
                  {"estimated_accuracy_low": 0.84, "estimated_accuracy_high": 0.88}):
        shown = estimate({"period": "2024-07", "estimated_accuracy": 0.86, **extra})
        assert tuple(shown["interval"]) == (0.84, 0.88), extra
    svg = line_chart(["2024-07", "2024-08"], [{"name": "v1 estimated", "values": {"2024-07": 0.86}}],
                     [{"y": 0.8, "label": "floor"}], "t", "d", "accuracy",
                     bands=[{"name": "v1 interval", "values": {"2024-07": (0.84, 0.88),
                                                              "2024-08": (0.83, 0.87)}}])
    assert "<polygon" in svg and "<title>v1 interval</title>" in svg and "floor 0.80" in svg
