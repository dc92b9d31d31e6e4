"""What the idle server holds: the modules every request may need (the rest are imported on first
use), and no freed buffer of a query kept back from the system (docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest

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


# 100 blocks of 2 MB freed while small allocations made between them stay: glibc keeps the
# blocks in its heap unless they had pages of their own. Prints the MB still resident.
HELD_AFTER_FREE = """
import sys, numpy as np
def rss_mb():
    fields = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)
    return int(fields['VmRSS'].split()[0]) / 1024
if sys.argv[1] == 'server':
    from promptpulse.server import return_large_buffers
    assert return_large_buffers()
first = np.ones(2**18)
del first  # glibc's default: from this free on, 2 MB blocks come from its heap
before = rss_mb()
blocks, small = [], []
for _ in range(100):
    blocks.append(np.ones(2**18))
    small.append(bytearray(2000))
del blocks
print(round(rss_mb() - before))
"""


def _held_after_free(mode: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", HELD_AFTER_FREE, mode], check=True, capture_output=True, text=True
    )
    return int(run.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_the_server_gives_large_freed_buffers_back() -> None:
    assert _held_after_free("plain") >= 150  # what a query's arrays would leave behind
    assert _held_after_free("server") <= 20
