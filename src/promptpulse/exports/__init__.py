"""Exports: one-off jobs with manifests, and scheduled exports to a directory."""

from promptpulse.exports.service import ExportRequest, ExportService, Job

__all__ = ["ExportRequest", "ExportService", "Job"]
