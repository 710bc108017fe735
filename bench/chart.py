#!/usr/bin/env python3
"""Draws target/bench/latency.svg from a `make bench` run (standard library only):
left, the CDF of Lambda warm-invocation latency (ours, the lambda_http peer, the floor) from the
raw samples;
right, wrk's /health latency percentiles for each HTTP server."""
import sys
from pathlib import Path

out = Path(sys.argv[1] if len(sys.argv) > 1 else "target/bench")
COLORS = {"ours": "#d95f02", "peer": "#7570b3", "floor": "#1b9e77"}
W, H, PAD = 460, 320, 50


def panel(x0, title, xlabel, ylabel, xmax, ymax, series, yticks, xticks):
    """series: list of (name, color, [(x, y), ...], dashed)."""
    px = lambda x: x0 + PAD + (W - 2 * PAD) * x / xmax
    py = lambda y: H - PAD - (H - 2 * PAD) * y / ymax
    parts = [f'<text x="{x0 + W / 2}" y="22" text-anchor="middle" font-weight="bold">{title}</text>',
             f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(xmax)}" y2="{py(0)}" stroke="#333"/>',
             f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(0)}" y2="{py(ymax)}" stroke="#333"/>',
             f'<text x="{x0 + W / 2}" y="{H - 12}" text-anchor="middle">{xlabel}</text>',
             f'<text x="{x0 + 14}" y="{H / 2}" text-anchor="middle" transform="rotate(-90 {x0 + 14} {H / 2})">{ylabel}</text>']
    for t, label in yticks:
        parts.append(f'<text x="{px(0) - 6}" y="{py(t) + 4}" text-anchor="end" font-size="11">{label}</text>')
        parts.append(f'<line x1="{px(0)}" y1="{py(t)}" x2="{px(xmax)}" y2="{py(t)}" stroke="#eee"/>')
    for t, label in xticks:
        parts.append(f'<text x="{px(t)}" y="{py(0) + 16}" text-anchor="middle" font-size="11">{label}</text>')
    for i, (name, color, points, dashed) in enumerate(series):
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{px(0) + 10}" y="{py(ymax) + 14 + 15 * i}" fill="{color}" font-size="12">{name}</text>')
    return parts


def lambda_panel():
    samples = {}
    for name in COLORS:
        path = out / f"lambda-{name}.txt"
        if path.exists():
            values = sorted(int(v) / 1000 for v in path.read_text().split())
            samples[name] = values
    if not samples:
        return []
    xmax = max(v[int(len(v) * 0.99) - 1] for v in samples.values()) * 1.1
    series = []
    for name, values in samples.items():
        n = len(values)
        points = [(min(v, xmax), (i + 1) / n) for i, v in enumerate(values) if v <= xmax]
        series.append((f"{name} (p50 {values[n // 2]:.0f} µs)", COLORS[name], points, name == "floor"))
    step = 25 if xmax < 200 else 100
    return panel(0, "Lambda warm invocation latency", "µs (to p99)", "fraction of invocations",
                 xmax, 1.0, series, [(f / 4, f"{f * 25}%") for f in range(5)],
                 [(t, str(t)) for t in range(0, int(xmax) + 1, step)])


def http_panel():
    rows = [line.split("\t") for line in (out / "http.tsv").read_text().splitlines()]
    rows = [r for r in rows if r[1] == "health" and len(r) >= 5]
    if not rows:
        return []
    colors = ["#d95f02", "#7570b3", "#e6ab02", "#1b9e77"]
    levels = [50, 75, 90, 99]
    series, ymax = [], 0.0
    for (name, _, rps, _, percentiles, *_), color in zip(rows, colors):
        values = [float(v) for v in percentiles.split(",")]
        ymax = max(ymax, *values)
        series.append((f"{name}: {float(rps) / 1000:.0f}k req/s", color, list(zip(levels, values)), "floor" in name))
    ymax *= 1.15
    # The four percentiles wrk reports, evenly spaced.
    position = {level: i + 0.5 for i, level in enumerate(levels)}
    return panel(W, "HTTP GET /health latency (wrk, 64 connections)", "percentile", "ms",
                 len(levels), ymax,
                 [(n, c, [(position[x], y) for x, y in p], d) for n, c, p, d in series],
                 [(ymax * f / 4, f"{ymax * f / 4:.2f}") for f in range(5)],
                 [(position[p], f"p{p}") for p in levels])


parts = lambda_panel() + http_panel()
svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H}" font-family="sans-serif" font-size="13">'
       f'<rect width="100%" height="100%" fill="white"/>' + "".join(parts) + "</svg>\n")
(out / "latency.svg").write_text(svg)
