"""Exports: one-off jobs with manifests, and scheduled exports to a directory."""

from promptpulse.exports.formats import MEDIA_TYPES
from promptpulse.exports.service import ExportRequest, ExportService, Job

__all__ = ["MEDIA_TYPES", "ExportRequest", "ExportService", "Job"]
