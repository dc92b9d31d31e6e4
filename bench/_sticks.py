"""The measuring sticks of `../shared/bench` (bare Python + DuckDB pipelines), set up and run from
here: a scratch venv under a cache dir, `wrk` from Debian, and one function per stick that runs
it once and returns its figures. Used by `bench.perf`; the sticks' own README says what each is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench._common import ROOT, free_port, wrk_latency_ms
from bench._perf_table import parse_result

PACKAGES = [
    "duckdb", "numpy", "pyarrow", "orjson", "pydantic", "psutil", "uvicorn", "httptools", "uvloop",
    "typing_extensions",
]  # fmt: skip
WRK_MISSING = "wrk is not installed: the ingest stick needs it (apt-get install -y wrk)"


def sticks_dir() -> Path:
    """Where the stick scripts live: $PROMPTPULSE_STICKS, else ../shared/bench beside the repo."""
    env = os.environ.get("PROMPTPULSE_STICKS")
    if env:
        return Path(env)
    for base in (ROOT.parent, Path("/work")):
        if (base / "shared" / "bench" / "ingest_limit.py").exists():
            return base / "shared" / "bench"
    raise SystemExit("stick scripts not found: set PROMPTPULSE_STICKS to shared/bench")


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "promptpulse-bench"


class Sticks:
    """The scratch venv (made once, reused) and the sticks' working dir ($PERF_DIR)."""

    def __init__(self, cache: Path | None = None) -> None:
        self.cache = cache or cache_dir()
        self.python = self.cache / "venv" / "bin" / "python"
        self.perf_dir = self.cache / "perf"
        self.scripts = sticks_dir()

    def ensure(self, need_wrk: bool) -> None:
        if need_wrk and shutil.which("wrk") is None:
            raise SystemExit(WRK_MISSING)
        if self._venv_ready():
            return
        print(f"setting up the sticks' venv in {self.cache / 'venv'} …", file=sys.stderr)
        self.cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(self.cache / "venv")], check=True)
        pip = [str(self.python), "-m", "pip", "install", "-q", *PACKAGES]
        subprocess.run(pip, check=True)
        if not self._venv_ready():
            raise SystemExit(f"the sticks' venv at {self.cache / 'venv'} is incomplete")

    def _venv_ready(self) -> bool:
        if not self.python.exists():
            return False
        probe = "import duckdb, numpy, pyarrow, orjson, pydantic, uvicorn, httptools, uvloop"
        return subprocess.run([str(self.python), "-c", probe], capture_output=True).returncode == 0

    def _env(self) -> dict[str, str]:
        """The sticks' environment: their working dir, and none of our import path (a stick
        imports nothing of ours)."""
        env = {**os.environ, "PERF_DIR": str(self.perf_dir)}
        env.pop("PYTHONPATH", None)
        return env

    def _run(self, script: str, *args: str, timeout: float = 3600) -> str:
        env = self._env()
        target = script if script == "-c" else str(self.scripts / script)
        proc = subprocess.run(
            [str(self.python), target, *args],
            env=env,
            cwd=self.scripts,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"stick {script} {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
        return proc.stdout

    def ingest(self, seconds: int, conns: int = 16) -> dict[str, float]:
        """One run of the HTTP ingest ceiling (1,000-event bodies, durable ack), from `wrk`."""
        self._run("ingest_limit.py", "bench", "--parser", "orjson_pylist", "--conns", str(conns),
                  "--seconds", str(seconds), timeout=seconds + 180)  # fmt: skip
        result = self.perf_dir / "results" / f"http_orjson_pylist_c{conns}_b1000.json"
        data = json.loads(result.read_text())
        return {
            "events_per_s": float(data["events_per_s"]),
            "ack_p99_ms": wrk_latency_ms(data["wrk"], "99"),
        }

    @contextmanager
    def ingest_server(self) -> Iterator[str]:
        """The ingest stick's server alone (its `bench` mode runs it under wrk); yields the URL."""
        port = free_port()
        env = self._env()
        server = subprocess.Popen(
            [str(self.python), str(self.scripts / "ingest_limit.py"), "serve", "--parser",
             "orjson_pylist", "--port", str(port)],
            env=env, cwd=self.scripts,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    urllib.request.urlopen(url + "/stats", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.2)
            else:
                raise RuntimeError("the ingest stick's server did not start within 30 s")
            yield url + "/v1/events"
        finally:
            server.terminate()
            server.wait(60)

    def ingest_body(self) -> bytes:
        """A 1,000-event body of the stick's own shape."""
        code = (
            "import json_ingest as ji, orjson, sys;"
            "sys.stdout.buffer.write(orjson.dumps(ji.make_events(1000)))"
        )
        env = self._env()
        return subprocess.run(
            [str(self.python), "-c", code], env=env, cwd=self.scripts, capture_output=True,
            check=True,
        ).stdout  # fmt: skip

    def prepare_queries(self, calls: int) -> Path:
        """The bulk-loaded DuckDB file of `calls` synthetic calls (made once, then reused)."""
        db = self.perf_dir / "db" / f"bulk_{calls}.duckdb"
        if not db.exists():
            print(f"stick: generating and bulk-loading {calls:,} calls …", file=sys.stderr)
            self._run("query_limit.py", "gen", "--n", str(calls))
            self._run("query_limit.py", "bulk", "--n", str(calls))
        return db

    def queries(self, db: Path, runs: int = 3) -> dict[str, float]:
        """One run of the naive single-query engine: a fresh connection, one cold run, then the
        median of `runs` warm runs of the stick's own 30-day overview and hourly series SQL
        (its `queries` phase does the same for all 14 of its queries; two are needed here)."""
        out = self._run("-c", QUERIES_PROBE, str(self.scripts), str(db), str(runs))
        return {k: float(v) for k, v in parse_result(out).items()}


QUERIES_PROBE = """
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import query_limit as q
con = q.connect(sys.argv[2])
con.execute("SET enable_progress_bar = false")  # it writes to stdout
out = {}
for key, name in (("overview_ms", "overview_30d"), ("hourly_ms", "timeseries_hour_30d")):
    con.execute(q.QUERIES[name]).fetchall()
    warm = []
    for _ in range(int(sys.argv[3])):
        t = time.perf_counter()
        con.execute(q.QUERIES[name]).fetchall()
        warm.append((time.perf_counter() - t) * 1e3)
    out[key] = statistics.median(warm)
print("RESULT " + json.dumps(out))
"""
