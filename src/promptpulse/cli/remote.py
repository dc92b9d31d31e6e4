"""Talking to a running server: the `--url`/`--api-key` options, the HTTP client, and the
server's problem details (RFC 9457) turned into a message and an exit code."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

import httpx
import typer

from promptpulse.cli.output import err, problem_lines

Url = Annotated[
    str, typer.Option(envvar="PROMPTPULSE_URL", help="Server URL (env PROMPTPULSE_URL)")
]
Key = Annotated[
    str,
    typer.Option(
        "--api-key", envvar="PROMPTPULSE_API_KEY", help="API key (env PROMPTPULSE_API_KEY)"
    ),
]
DEFAULT_URL = "http://127.0.0.1:8000"
NO_KEY = "give --api-key or set PROMPTPULSE_API_KEY"


def require_key(api_key: str, message: str = NO_KEY) -> None:
    if not api_key:
        raise typer.BadParameter(message)


def client(url: str, api_key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60)


def problem(response: httpx.Response) -> str:
    """The status, the detail and each field error of a failed response, one per line."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    errors = [(e["field"], e["message"]) for e in body.get("errors", [])]
    return "\n".join(
        problem_lines(str(body.get("detail", body)), errors, f"HTTP {response.status_code}: ")
    )


def exit_on_problem(response: httpx.Response, *, labelled: bool = False) -> NoReturn:
    """Print the response's problem on stderr (after `error:` when labelled) and exit 2."""
    text = problem(response)
    err.print(f"[red]error:[/red] {text}" if labelled else f"[red]{text}[/red]")
    raise typer.Exit(2)


def call(url: str, api_key: str, method: str, path: str, **kwargs: Any) -> Any:
    """One request to the server; its JSON answer, or its problem said on stderr and exit 2."""
    require_key(api_key)
    with client(url, api_key) as http:
        try:
            r = http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            err.print(f"[red]error:[/red] cannot reach {url}: {exc}", highlight=False)
            raise typer.Exit(1) from None
    if r.status_code >= 400:
        exit_on_problem(r, labelled=True)
    return r.json() if r.content else None


def parse_filters(filters: list[str]) -> list[tuple[str, str]]:
    """`--filter name=value` options as (name, value) pairs, in order."""
    pairs = []
    for f in filters:
        name, sep, value = f.partition("=")
        if not sep:
            raise typer.BadParameter(f"--filter '{f}' must look like name=value")
        pairs.append((name, value))
    return pairs
