"""Draw a Timeline: five stacked panels on one time axis (minutes since the start) with the loop's decisions
as vertical marks across all of them, as a PNG and an HTML page that shows it with the marks listed."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

from ticketops.demo.timeline import Mark, Series, Timeline

PNG = "timeline.png"
HTML = "timeline.html"
MARK_STYLE = {  # kind: (colour, legend)
    "alert": ("#d62728", "drift alert"),
    "registered": ("#9467bd", "version registered (train / retrain)"),
    "canary": ("#ff7f0e", "canary rollout starts"),
    "promoted": ("#2ca02c", "promoted"),
    "rolled_back": ("#8c564b", "rolled back"),
}
TRACK_COLOURS = {"stable": "#1f77b4", "canary": "#ff7f0e"}


def _minutes(timeline: Timeline, times: list[float]) -> list[float]:
    return [(t - timeline.start) / 60.0 for t in times]


def _plot(ax, timeline: Timeline, series: list[Series], styles: dict[str, dict] | None = None) -> None:
    for s in series:
        style = {"linewidth": 1.6, "color": TRACK_COLOURS.get(s.label), **(styles or {}).get(s.label, {})}
        ax.plot(_minutes(timeline, s.times), s.values, label=s.label, **style)
    if not any(s.times for s in series):
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="grey")
    elif len(series) > 1 or (series and series[0].label):
        ax.legend(loc="upper left", fontsize=8, frameon=False)


def render_png(timeline: Timeline, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(5, 1, figsize=(13, 11), sharex=True, gridspec_kw={"hspace": 0.18})
    traffic, drift, backlog, weight, accuracy = axes
    _plot(traffic, timeline, timeline.traffic)
    traffic.set_ylabel("tickets/s\n(/classify)")
    threshold_style = {"threshold": {"color": "black", "linestyle": "--", "linewidth": 1.0}}
    _plot(drift, timeline, timeline.drift, {f"{timeline.drift_signal} score": {"color": "#d62728"}, **threshold_style})
    direction = "below the line = drift" if timeline.drift_is_p_value else "above the line = drift"
    drift.set_ylabel(f"drift: {timeline.drift_signal}\n({direction})")
    _plot(backlog, timeline, timeline.backlog, {"review backlog": {"color": "#9467bd"}})
    backlog.set_ylabel("review backlog\n(tickets)")
    _plot(weight, timeline, timeline.canary_weight, {"canary weight %": {"color": "#ff7f0e"}})
    weight.set_ylabel("canary weight\n(%)")
    weight.set_ylim(-5, 105)
    _plot(accuracy, timeline, timeline.accuracy)
    accuracy.set_ylabel("live accuracy\n(agents' labels)")
    accuracy.set_ylim(0, 1.05)
    accuracy.set_xlabel(f"minutes since {_clock(timeline.start)} UTC")
    accuracy.set_xlim(0, max((timeline.end - timeline.start) / 60.0, 1 / 60))
    for ax in axes:
        ax.grid(alpha=0.25)
        for mark in timeline.marks:
            ax.axvline((mark.at - timeline.start) / 60.0, color=MARK_STYLE[mark.kind][0], linewidth=1.2, alpha=0.8)
    for i, mark in enumerate(timeline.marks):
        x = (mark.at - timeline.start) / 60.0
        traffic.annotate(
            mark.label,
            (x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, 4 + 11 * (i % 3)),
            textcoords="offset points",
            fontsize=8,
            color=MARK_STYLE[mark.kind][0],
        )
    kinds = [kind for kind in MARK_STYLE if any(m.kind == kind for m in timeline.marks)]
    handles = [plt.Line2D([], [], color=MARK_STYLE[k][0], linewidth=2) for k in kinds]
    if handles:
        fig.legend(handles, [MARK_STYLE[k][1] for k in kinds], loc="lower center", ncol=len(kinds), frameon=False)
    fig.suptitle("ticketops: the loop (traffic → drift → alert → retrain → canary → promote / roll back)", y=0.995)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _rows(timeline: Timeline, marks: list[Mark]) -> str:
    rows = []
    for mark in marks:
        offset = mark.at - timeline.start
        rows.append(
            f"<tr><td>{_clock(mark.at)}</td><td>+{int(offset // 60)}:{int(offset % 60):02d}</td>"
            f"<td>{html.escape(MARK_STYLE[mark.kind][1])}</td><td>{html.escape(mark.label)}</td></tr>"
        )
    return "\n".join(rows) or '<tr><td colspan="4">no events</td></tr>'


def render_html(timeline: Timeline, png_name: str, path: Path) -> Path:
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ticketops: the loop as a picture</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}img{{max-width:100%}}</style></head>
<body><h1>ticketops: the loop as a picture</h1>
<p>{_clock(timeline.start)} to {_clock(timeline.end)} UTC. Traffic per track, the {html.escape(timeline.drift_signal)}
drift score against its threshold, the review backlog, the canary weight and live accuracy on agents' labels per
track, with the drift alert, registered versions, rollout starts, promotions and rollbacks marked.</p>
<img src="{html.escape(png_name)}" alt="ticketops timeline">
<h2>Events</h2>
<table><tr><th>time (UTC)</th><th>since start</th><th>what</th><th>detail</th></tr>
{_rows(timeline, timeline.marks)}
</table></body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def write_timeline(timeline: Timeline, out_dir: Path) -> Path:
    """``out_dir``/timeline.png and timeline.html; returns the HTML page's path."""
    render_png(timeline, out_dir / PNG)
    return render_html(timeline, PNG, out_dir / HTML)
