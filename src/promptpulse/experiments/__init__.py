"""A/B experiments and side-by-side comparison: statistics, assignment, planning, results.

Other packages import from here: `compare`, `assign`, the statistics live in `stats`,
`sequential` and `power`.
"""

from promptpulse.experiments.compare import compare
from promptpulse.sdk.assign import assign, bucket

__all__ = ["assign", "bucket", "compare"]
