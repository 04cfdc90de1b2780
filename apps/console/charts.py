"""Charts drawn on the server: the geometry of an SVG, no script, no CDN.

A template turns the returned shapes into ``<svg>`` elements
(templates/console/ops/stacked_bars.svg.html).
"""

import math

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 12, 30
BAR_GAP = 0.25  # part of each slot left empty between bars


def nice_ceiling(value):
    """Return the smallest of 1, 2, 5 × 10^k that is at least ``value`` (1 for 0)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def stacked_bars(labels, series):
    """Return the shapes of a stacked bar chart.

    ``labels``: one per bar (x axis); ``series``: [(name, colour, values)], values
    one per bar. Returns {width, height, segments, ticks, labels, legend, top}:
    segments are rectangles {x, y, w, h, colour, title}, bottom series first.
    """
    totals = [sum(values[i] for _, _, values in series) for i in range(len(labels))]
    top = nice_ceiling(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    bar_w = slot * (1 - BAR_GAP)
    segments, x_labels = [], []
    for i, label in enumerate(labels):
        x = LEFT + i * slot + (slot - bar_w) / 2
        base = 0
        for name, colour, values in series:
            if values[i] <= 0:
                continue
            height = plot_h * values[i] / top
            y = TOP + plot_h * (1 - (base + values[i]) / top)
            segments.append(
                _rect(x, y, bar_w, height, colour, f"{label}: {values[i]} {name}")
            )
            base += values[i]
        x_labels.append(
            {"x": round(x + bar_w / 2, 1), "text": label, "total": totals[i]}
        )
    ticks = [
        {"y": round(TOP + plot_h * (1 - value / top), 1), "text": _count(value)}
        for value in (0, top / 2, top)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "axis_y": TOP + plot_h,
        "label_y": HEIGHT - 10,
        "segments": segments,
        "ticks": ticks,
        "labels": x_labels,
        "legend": [{"name": name, "colour": colour} for name, colour, _ in series],
        "top": top,
    }


def _rect(x, y, w, h, colour, title):
    return {
        "x": round(x, 1),
        "y": round(y, 1),
        "w": round(w, 1),
        "h": round(h, 1),
        "colour": colour,
        "title": title,
    }


def _count(value):
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
