"""Renderers: Markdown, plain text and HTML (inline CSS, tables, no scripts: email-safe)."""

from __future__ import annotations

import html

from promptpulse.model import fmt
from promptpulse.reports.model import Figure, Mover, Report

MOVER_TITLES = {
    "cost_usd": "Cost",
    "latency_p95_ms": "p95 latency",
    "error_rate": "Error rate",
}


def value(v: float | None, unit: str) -> str:
    """A figure by the one rule of `model.fmt`."""
    return fmt.value(v, unit)


def change(
    v: float | None, previous: float | None, unit: str, baseline_requests: float | None = None
) -> str:
    """The change against the previous period (`model.fmt.delta`: "new"/"n/a" on a tiny
    baseline, points for rates)."""
    return fmt.delta(v, previous, baseline_requests, unit)


def _better(f: Figure, baseline_requests: float | None) -> bool | None:
    """Better or worse, unless the change itself reads "new" or "n/a"."""
    if fmt.delta(f.value, f.previous, baseline_requests, f.unit) in ("new", "n/a"):
        return None
    return f.better


def _arrow(f: Figure, baseline_requests: float | None = None) -> str:
    return {True: "▲ better", False: "▼ worse", None: ""}[_better(f, baseline_requests)]


def _period_line(r: Report) -> str:
    return f"{r.start} → {r.end} ({r.timezone}), against {r.previous_start} → {r.previous_end}"


def _forecast_line(r: Report) -> str | None:
    f = r.forecast
    if f is None:
        return None
    return (
        f"Projected spend for the month to {f.period_end[:10]}: {value(f.projected, 'usd')} "
        f"(95 % interval {value(f.low, 'usd')} – {value(f.high, 'usd')}; "
        f"{value(f.to_date, 'usd')} so far)."
    )


def _mover_cells(m: Mover) -> list[str]:
    return [
        m.prompt_id,
        value(m.previous, m.unit),
        value(m.value, m.unit),
        change(m.value, m.previous, m.unit),
        f"{fmt.count(m.previous_requests)} → {fmt.count(m.requests)}",
    ]


def _sections(r: Report) -> dict[str, list[list[str]]]:
    """The tables every renderer shows, as rows of plain strings."""
    movers: dict[str, list[list[str]]] = {}
    for m in r.movers:
        movers.setdefault(m.metric, []).append(_mover_cells(m))
    return {
        "figures": [
            [
                f.label,
                value(f.value, f.unit),
                value(f.previous, f.unit),
                change(f.value, f.previous, f.unit, r.baseline_requests),
                _arrow(f, r.baseline_requests),
            ]
            for f in r.figures
        ],
        **{f"movers:{k}": v for k, v in movers.items()},
        "alerts": [[a.fired_at, a.severity, a.name, a.state, a.reason or ""] for a in r.alerts],
        "incidents": [
            [
                x.severity,
                str(x.incidents),
                str(x.acknowledged),
                str(x.resolved),
                _duration(x.mtta_s),
                _duration(x.mttr_s),
            ]
            for x in r.incidents
        ],
        "budgets": [
            [
                b.name,
                f"{value(b.spent, 'usd' if b.metric == 'cost_usd' else 'count')} of "
                f"{value(b.amount, 'usd' if b.metric == 'cost_usd' else 'count')}",
                fmt.pct(b.spent_ratio),
                value(b.projected, "usd" if b.metric == "cost_usd" else "count"),
                "yes" if b.will_overrun else "no",
            ]
            for b in r.budgets
        ],
    }


HEADERS = {
    "figures": ["Figure", "This period", "Previous", "Change", ""],
    "movers": ["Prompt", "Previous", "This period", "Change", "Calls"],
    "alerts": ["Fired", "Severity", "Alert", "State", "Reason"],
    "budgets": ["Budget", "Spent", "%", "Projected", "Overrun?"],
    "incidents": ["Severity", "Incidents", "Acknowledged", "Resolved", "MTTA", "MTTR"],
}


def _duration(seconds: float | None) -> str:
    """MTTA / MTTR: minutes below two hours, hours above; a dash when none qualifies."""
    if seconds is None:
        return "—"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


# ------------------------------------------------------------------ Markdown


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]


def render_markdown(r: Report) -> str:
    s = _sections(r)
    out = [f"# {r.title}", "", _period_line(r), ""]
    if r.approximate:
        out += ["_Some percentiles come from rollups (within 1 %)._", ""]
    out += ["## Key figures", "", *_md_table(HEADERS["figures"], s["figures"]), ""]
    out += ["## Top movers", ""]
    any_movers = False
    for metric, title in MOVER_TITLES.items():
        rows = s.get(f"movers:{metric}")
        if rows:
            any_movers = True
            out += [f"### {title}", "", *_md_table(HEADERS["movers"], rows), ""]
    if not any_movers:
        out += [f"No prompt with at least {r.min_requests} calls in both periods changed.", ""]
    out += ["## Alerts fired", ""]
    out += [*_md_table(HEADERS["alerts"], s["alerts"]), ""] if r.alerts else ["None.", ""]
    out += ["## Incidents", ""]
    out += [*_md_table(HEADERS["incidents"], s["incidents"]), ""] if r.incidents else ["None.", ""]
    out += ["## Budgets", ""]
    out += [*_md_table(HEADERS["budgets"], s["budgets"]), ""] if r.budgets else ["None.", ""]
    out += ["## Forecast", "", _forecast_line(r) or "—", ""]
    out += ["## Recommendations", ""]
    out += [f"- **{x.title}.** {x.detail}" for x in r.recommendations] or ["None."]
    out += ["", f"_Generated {r.generated_at} by PromptPulse._", ""]
    return "\n".join(out)


# ------------------------------------------------------------------ plain text


def _text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), *(line(r) for r in rows)]


def render_text(r: Report) -> str:
    s = _sections(r)
    out = [r.title, "=" * len(r.title), _period_line(r), ""]
    out += ["KEY FIGURES", *_text_table(HEADERS["figures"], s["figures"]), ""]
    out += ["TOP MOVERS"]
    for metric, title in MOVER_TITLES.items():
        rows = s.get(f"movers:{metric}")
        if rows:
            out += [f"{title}:", *_text_table(HEADERS["movers"], rows)]
    out += [""]
    out += ["ALERTS FIRED", *(_text_table(HEADERS["alerts"], s["alerts"]) if r.alerts
                              else ["None."]), ""]  # fmt: skip
    out += ["INCIDENTS", *(_text_table(HEADERS["incidents"], s["incidents"]) if r.incidents
                           else ["None."]), ""]  # fmt: skip
    out += ["BUDGETS", *(_text_table(HEADERS["budgets"], s["budgets"]) if r.budgets
                         else ["None."]), ""]  # fmt: skip
    out += ["FORECAST", _forecast_line(r) or "—", ""]
    out += ["RECOMMENDATIONS", *([f"- {x.title}. {x.detail}" for x in r.recommendations]
                                 or ["None."])]  # fmt: skip
    out += ["", f"Generated {r.generated_at} by PromptPulse."]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ HTML

_FONT = "font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;"
_TABLE = "border-collapse:collapse;width:100%;margin:0 0 16px 0;font-size:14px;"
_TH = "text-align:left;padding:6px 8px;border-bottom:2px solid #d0d7de;background:#f6f8fa;"
_TD = "padding:6px 8px;border-bottom:1px solid #eaeef2;vertical-align:top;"
_H2 = "font-size:18px;margin:24px 0 8px 0;color:#24292f;"
_GOOD, _BAD = "color:#1a7f37;", "color:#cf222e;"


def _html_table(header: list[str], rows: list[list[str]], styles: list[str] | None = None) -> str:
    head = "".join(f'<th style="{_TH}">{html.escape(h)}</th>' for h in header)
    body = ""
    for i, row in enumerate(rows):
        extra = styles[i] if styles else ""
        cells = "".join(
            f'<td style="{_TD}{extra if j == len(row) - 1 else ""}">{html.escape(c)}</td>'
            for j, c in enumerate(row)
        )
        body += f"<tr>{cells}</tr>"
    return (
        f'<table role="presentation" cellpadding="0" cellspacing="0" style="{_TABLE}">'
        f"<tr>{head}</tr>{body}</table>"
    )


def render_html(r: Report) -> str:
    s = _sections(r)
    e = html.escape
    styles = [
        {True: _GOOD, False: _BAD, None: ""}[_better(f, r.baseline_requests)] for f in r.figures
    ]
    parts = [
        f'<h1 style="font-size:22px;margin:0 0 4px 0;">{e(r.title)}</h1>',
        f'<p style="color:#57606a;margin:0 0 16px 0;">{e(_period_line(r))}</p>',
    ]
    if r.approximate:
        parts.append("<p><em>Some percentiles come from rollups (within 1 %).</em></p>")
    parts += [f'<h2 style="{_H2}">Key figures</h2>',
              _html_table(HEADERS["figures"], s["figures"], styles),
              f'<h2 style="{_H2}">Top movers</h2>']  # fmt: skip
    any_movers = False
    for metric, title in MOVER_TITLES.items():
        rows = s.get(f"movers:{metric}")
        if rows:
            any_movers = True
            parts += [f'<h3 style="font-size:15px;margin:12px 0 6px 0;">{e(title)}</h3>',
                      _html_table(HEADERS["movers"], rows)]  # fmt: skip
    if not any_movers:
        parts.append(f"<p>No prompt with at least {r.min_requests} calls in both periods "
                     "changed.</p>")  # fmt: skip
    parts.append(f'<h2 style="{_H2}">Alerts fired</h2>')
    parts.append(_html_table(HEADERS["alerts"], s["alerts"]) if r.alerts else "<p>None.</p>")
    parts.append(f'<h2 style="{_H2}">Incidents</h2>')
    parts.append(
        _html_table(HEADERS["incidents"], s["incidents"]) if r.incidents else "<p>None.</p>"
    )
    parts.append(f'<h2 style="{_H2}">Budgets</h2>')
    parts.append(_html_table(HEADERS["budgets"], s["budgets"]) if r.budgets else "<p>None.</p>")
    parts.append(f'<h2 style="{_H2}">Forecast</h2><p>{e(_forecast_line(r) or "—")}</p>')
    parts.append(f'<h2 style="{_H2}">Recommendations</h2>')
    if r.recommendations:
        items = "".join(
            f'<li style="margin:0 0 8px 0;"><strong>{e(x.title)}.</strong> {e(x.detail)}</li>'
            for x in r.recommendations
        )
        parts.append(f'<ul style="padding-left:20px;margin:0;">{items}</ul>')
    else:
        parts.append("<p>None.</p>")
    parts.append(
        f'<p style="color:#8c959f;font-size:12px;margin-top:24px;">Generated '
        f"{e(r.generated_at)} by PromptPulse.</p>"
    )
    inner = "".join(parts)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{e(r.title)}</title></head>"
        f'<body style="margin:0;padding:0;background:#ffffff;">'
        f'<div style="{_FONT}max-width:760px;margin:0 auto;padding:24px;color:#24292f;">'
        f"{inner}</div></body></html>"
    )


def render(r: Report, fmt: str) -> str:
    if fmt == "markdown":
        return render_markdown(r)
    if fmt == "html":
        return render_html(r)
    return render_text(r)
