"""The server imports what every request may need at start, and the rest on first use: each
heavy module left out here is memory the idle server does not hold (docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys

# Only some features need these: experiments and forecasts (scipy, statsmodels, pandas), sealed
# channel secrets (cryptography, ~6 MB), Parquet and CSV exports (pyarrow's parquet, csv and
# file systems, ~8 MB).
ON_FIRST_USE = ("scipy", "statsmodels", "pandas", "cryptography", "pyarrow.parquet", "pyarrow.csv")


def test_the_app_imports_no_feature_only_module() -> None:
    code = (
        "import sys, promptpulse.app, promptpulse.server;"
        f"print(' '.join(m for m in sys.modules if m.startswith({ON_FIRST_USE!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert loaded == []
    # and the probe sees them when they are imported
    probe = code.replace("promptpulse.server;", "promptpulse.server, pyarrow.parquet;")
    shown = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    )
    assert "pyarrow.parquet" in shown.stdout.split()
