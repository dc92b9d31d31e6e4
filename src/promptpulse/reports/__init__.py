"""Scheduled reports: key figures against the previous period, top movers, alerts fired,
budgets, projected month-end spend and recommendations; rendered as Markdown, HTML and text,
sent by email, webhook or to files on a schedule."""

from promptpulse.reports.build import build_report
from promptpulse.reports.model import Report
from promptpulse.reports.render import render, render_html, render_markdown, render_text
from promptpulse.reports.schedules import ReportChannel, ScheduleIn
from promptpulse.reports.service import ReportService, report_for

__all__ = [
    "Report",
    "ReportChannel",
    "ReportService",
    "ScheduleIn",
    "build_report",
    "render",
    "render_html",
    "render_markdown",
    "render_text",
    "report_for",
]
