"""Inline SVG charts: no script, no library, nothing fetched when a page is viewed.

Every chart is `role="img"` with a <title> and a <desc> saying what it shows; series differ by
dash pattern and marker shape as well as colour, thresholds carry their label in text, and heat-map
cells print their value with a mark for a drifted feature, so colour is never the only signal.
"""

from __future__ import annotations

import itertools
from html import escape
from typing import Any

# Okabe–Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
DASHES = ["", "6 3", "2 3", "8 3 2 3"]
MARKERS = ["circle", "square", "diamond", "triangle"]
_ids = itertools.count()


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'
    if shape == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"/>'
    if shape == "diamond":
        return (f'<path d="M{x:.1f} {y - 4.5:.1f}l4.5 4.5l-4.5 4.5l-4.5-4.5z" fill="{colour}"/>')
    return f'<path d="M{x:.1f} {y - 4.5:.1f}l4.5 8h-9z" fill="{colour}"/>'


def _open(width: int, height: int, title: str, desc: str, fixed: bool = False) -> tuple[str, str]:
    """The <svg> element: scales to the column's width, or (fixed) keeps its own size up to it."""
    n = next(_ids)
    size = f'width="{width}" height="{height}" class="chart fixed"' if fixed else 'class="chart"'
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="t{n} d{n}" {size} preserveAspectRatio="xMinYMin meet">'
            f'<title id="t{n}">{escape(title)}</title><desc id="d{n}">{escape(desc)}</desc>')
    return head, "</svg>"


def line_chart(x_labels: list[str], series: list[dict[str, Any]], lines: list[dict[str, Any]],
               title: str, desc: str, y_label: str, bands: list[dict[str, Any]] | None = None,
               width: int = 760, height: int = 320) -> str:
    """Series `{name, values: {x: y}}` over categorical x, horizontal `lines` `{y, label}` (thresholds),
    optional `bands` `{name, values: {x: (low, high)}}` (intervals)."""
    left, right, top, bottom = 64, 36, 16, 64
    values = [y for s in series for y in s["values"].values() if y is not None]
    values += [ln["y"] for ln in lines if ln["y"] is not None]
    values += [v for b in bands or [] for pair in b["values"].values() for v in pair if v is not None]
    if not x_labels or not values:
        return ""
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.12, 0.01)
    lo, hi = (lo - pad if lo < 0 or lo - pad >= 0 else 0.0), hi + pad  # no negative axis for counts
    digits = 0 if hi - lo >= 20 else 2 if hi - lo >= 1 else 3
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(x_labels) - 1, 1)

    def px(i: int) -> float:
        return left + (i * step if len(x_labels) > 1 else plot_w / 2)

    def py(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    head, tail = _open(width, height, title, desc)
    out = [head, f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" '
                 'stroke="#bbb"/>']
    for k in range(5):  # y grid with labels
        v = lo + (hi - lo) * k / 4
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(v):.1f}" y2="{py(v):.1f}" '
                   f'stroke="#eee"/><text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end" '
                   f'class="tick">{v:.{digits}f}</text>')
    for i, x in enumerate(x_labels):
        out.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                   f'class="tick">{escape(x)}</text>')
    out.append(f'<text x="14" y="{top + plot_h / 2:.0f}" transform="rotate(-90 14 {top + plot_h / 2:.0f})" '
               f'text-anchor="middle" class="axis">{escape(y_label)}</text>')
    index = {x: i for i, x in enumerate(x_labels)}
    for b in bands or []:
        pts = [(index[x], v) for x, v in b["values"].items() if x in index and None not in v]
        if pts:
            upper = " ".join(f"{px(i):.1f},{py(h):.1f}" for i, (_, h) in pts)
            lower = " ".join(f"{px(i):.1f},{py(low):.1f}" for i, (low, _) in reversed(pts))
            out.append(f'<polygon points="{upper} {lower}" fill="#56B4E9" opacity="0.25">'
                       f'<title>{escape(b["name"])}</title></polygon>')
    for n, ln in enumerate(lines):
        if ln["y"] is None:
            continue
        y = py(ln["y"])
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#B00020" '
                   f'stroke-dasharray="{"5 4" if n % 2 == 0 else "2 3"}" stroke-width="1.5"/>'
                   f'<text x="{left + plot_w - 4}" y="{y - 4:.1f}" text-anchor="end" class="threshold">'
                   f'{escape(ln["label"])} {ln["y"]:.{max(digits, 2)}f}</text>')
    legend = []
    for n, s in enumerate(series):
        colour, dash, shape = (PALETTE[n % len(PALETTE)], DASHES[n % len(DASHES)],
                               MARKERS[n % len(MARKERS)])
        pts = [(index[x], y) for x, y in s["values"].items() if x in index and y is not None]
        if len(pts) > 1:
            path = " ".join(f"{px(i):.1f},{py(y):.1f}" for i, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2" '
                       f'stroke-dasharray="{dash}"/>')
        out += [_marker(shape, px(i), py(y), colour) for i, y in pts]
        legend.append((s["name"], colour, dash, shape))
    lx, ly = left, height - 22
    for name, colour, dash, shape in legend:
        if lx + 40 + 7 * len(name) > width and lx > left:
            lx, ly = left, ly + 16
        out.append(f'<line x1="{lx}" x2="{lx + 22}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2" '
                   f'stroke-dasharray="{dash}"/>{_marker(shape, lx + 11, ly, colour)}'
                   f'<text x="{lx + 28}" y="{ly + 4}" class="legend">{escape(name)}</text>')
        lx += 40 + 7 * len(name)
    out.append(tail)
    return "".join(out)


def heat_map(features: list[str], periods: list[str], cells: dict[tuple[str, str], dict[str, Any]],
             title: str, desc: str) -> str:
    """Rows = features, columns = periods; each cell `{ratio, drifted}`: effect / threshold, shaded,
    printed, and marked "▲" when the feature drifted (significant and large)."""
    if not features or not periods:
        return ""
    label_w, cell_w, cell_h, top = 170, 74, 22, 30
    width, height = label_w + cell_w * len(periods) + 8, top + cell_h * len(features) + 8
    head, tail = _open(width, height, title, desc, fixed=True)
    out = [head]
    for j, p in enumerate(periods):
        out.append(f'<text x="{label_w + cell_w * j + cell_w / 2:.0f}" y="{top - 10}" text-anchor="middle" '
                   f'class="tick">{escape(p)}</text>')
    for i, f in enumerate(features):
        y = top + cell_h * i
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" class="tick">{escape(f)}</text>')
        for j, p in enumerate(periods):
            x = label_w + cell_w * j
            cell = cells.get((f, p))
            if cell is None:
                out.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                           f'fill="#f3f3f3"/><text x="{x + cell_w / 2 - 1:.0f}" y="{y + 15}" '
                           'text-anchor="middle" class="cell muted">–</text>')
                continue
            ratio = cell.get("ratio")
            share = min(ratio or 0.0, 2.0) / 2.0
            fill = f"rgb({255},{int(245 - 170 * share)},{int(235 - 200 * share)})"
            if ratio is None:
                fill, text = ("#D55E00", "▲") if cell.get("drifted") else ("#ffffff", "")
            else:
                text = f"{ratio:.2f}" + (" ▲" if cell.get("drifted") else "")
            weight = "bold" if cell.get("drifted") else "normal"
            out.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}">'
                       f'<title>{escape(f)}, {escape(p)}: {escape(text or "not drifted")}</title></rect>'
                       f'<text x="{x + cell_w / 2 - 1:.0f}" y="{y + 15}" text-anchor="middle" '
                       f'class="cell" font-weight="{weight}">{escape(text)}</text>')
    out.append(tail)
    return "".join(out)


def timeline(segments: list[dict[str, Any]], title: str, desc: str, width: int = 760) -> str:
    """Production timeline: one bar per stage assignment `{version, start, end, label, rollback}`
    (start/end as fractions of the span), a rollback marked "↩" in its label."""
    if not segments:
        return ""
    left, right, bar = 10, 10, 28
    height = 24 + (bar + 26) * 1 + 24
    head, tail = _open(width, height, title, desc)
    out = [head]
    versions = list(dict.fromkeys(s["version"] for s in segments))
    colours = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(versions)}
    plot_w = width - left - right
    for n, s in enumerate(segments):
        x0, x1 = left + plot_w * s["start"], left + plot_w * s["end"]
        y = 20
        out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 3):.1f}" height="{bar}" '
                   f'fill="{colours[s["version"]]}" stroke="#fff" stroke-width="2">'
                   f'<title>{escape(s["label"])}</title></rect>')
        anchor = "start"
        out.append(f'<text x="{x0 + 4:.1f}" y="{y + 19}" class="bar-label" text-anchor="{anchor}">'
                   f'{escape(("↩ " if s.get("rollback") else "") + s["version"])}</text>')
        out.append(f'<text x="{x0 + 2:.1f}" y="{y + bar + 16 + (n % 2) * 0}" class="tick">'
                   f'{escape(s["date"])}</text>')
    out.append(tail)
    return "".join(out)
