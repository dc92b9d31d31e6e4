"""`promptpulse ingest FILE.jsonl`: send a file of calls to a running server in batches, with a
progress bar; bad lines are reported by line number and the good ones kept."""

from __future__ import annotations

import gzip
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from promptpulse.cli.output import console, err
from promptpulse.cli.remote import DEFAULT_URL, Key, Url, client, exit_on_problem, require_key

SHOWN_ERRORS = 50
ATTEMPTS = 8  # a busy server answers 429 or 503 with Retry-After


def ingest(
    file: Annotated[Path, typer.Argument(help="A JSON Lines file: one call record per line")],
    url: Url = DEFAULT_URL,
    api_key: Key = "",
    batch_size: Annotated[int, typer.Option(help="Events per request (≤ 10,000)")] = 1000,
) -> None:
    """Send a JSONL file of calls; bad lines are reported by line number, good ones kept."""
    require_key(api_key)
    if not file.exists():
        raise typer.BadParameter(f"{file} does not exist")
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    bad: list[str] = []
    with client(url, api_key) as http, _progress() as progress:
        task = progress.add_task("ingest", total=file.stat().st_size, done=0)
        _send_file(file, batch_size, http, totals, bad, progress, task)
    _summary(totals, bad)
    if totals["rejected"]:
        raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]ingest"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[done]} sent"),
        TimeRemainingColumn(),
        console=err,
    )


def _send_file(
    file: Path,
    batch_size: int,
    http: httpx.Client,
    totals: dict[str, int],
    bad: list[str],
    progress: Progress,
    task: TaskID,
) -> None:
    """Read the file line by line and send it in batches of `batch_size` events."""
    batch: list[tuple[int, Any]] = []
    with file.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            progress.advance(task, len(line))
            if not line.strip():
                continue
            try:
                batch.append((number, orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                bad.append(f"line {number}: not JSON ({exc})")
                totals["rejected"] += 1
                continue
            if len(batch) >= batch_size:
                _send(http, batch, totals, bad)
                progress.update(task, done=totals["accepted"] + totals["duplicates"])
                batch = []
        _send(http, batch, totals, bad)
        progress.update(task, done=totals["accepted"] + totals["duplicates"])


def _send(
    http: httpx.Client, batch: list[tuple[int, Any]], totals: dict[str, int], bad: list[str]
) -> None:
    """One batch: posted gzipped (retried while the server is busy), its verdicts counted."""
    if not batch:
        return
    response = _post(http, gzip.compress(orjson.dumps({"events": [e for _, e in batch]}), 1))
    if response.status_code not in (200, 207, 422):
        exit_on_problem(response)
    result = response.json()
    totals["accepted"] += result.get("accepted", 0)
    totals["duplicates"] += result.get("duplicates", 0)
    for r in result.get("rejected", []):
        line = batch[r["index"]][0]
        reasons = "; ".join(f"{e['field']}: {e['message']}" for e in r["errors"])
        bad.append(f"line {line}: {reasons}")
        totals["rejected"] += 1


def _post(http: httpx.Client, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    for attempt in range(ATTEMPTS):
        response = http.post("/v1/events", content=body, headers=headers)
        if response.status_code in (429, 503) and attempt < ATTEMPTS - 1:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        break
    return response


def _summary(totals: dict[str, int], bad: list[str]) -> None:
    for message in bad[:SHOWN_ERRORS]:
        err.print(f"[red]{message}[/red]")
    if len(bad) > SHOWN_ERRORS:
        err.print(f"… and {len(bad) - SHOWN_ERRORS} more")
    console.print(
        f"accepted {totals['accepted']}, duplicates {totals['duplicates']}, "
        f"rejected {totals['rejected']}"
    )


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
