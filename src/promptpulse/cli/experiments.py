"""`promptpulse experiments ...`: experiments over HTTP against a running server, and offline
sample-size planning."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich import box
from rich.table import Table

from promptpulse.cli.ids import resolve
from promptpulse.cli.output import Json, console, listing, print_json
from promptpulse.cli.remote import DEFAULT_URL, Key, Url, call
from promptpulse.errors import NotFound
from promptpulse.model import CATALOG, fmt

experiments_app = typer.Typer(
    help="A/B experiments: create, list, results, plan.", no_args_is_help=True
)


def _dump(data: Any) -> None:
    console.print_json(orjson.dumps(data).decode())


def _unit(metric: str) -> str | None:
    m = CATALOG.get(metric)
    return m.unit if m is not None else None


def _ref(url: str, api_key: str, typed: str) -> str:
    """The experiment a typed id or key names: whole, or any unique start of an id or a key
    (as `promptpulse experiments list` prints them). What starts none goes as typed: the
    server says why."""
    experiments = call(url, api_key, "GET", "/v1/experiments")["experiments"]
    names = [e["id"] for e in experiments] + [e["key"] for e in experiments]
    try:
        return resolve(typed, dict.fromkeys(names), "experiment")
    except NotFound:
        return typed


@experiments_app.command("list")
def list_cmd(url: Url = DEFAULT_URL, api_key: Key = "", as_json: Json = False) -> None:
    """Experiments of the key's project."""
    data = call(url, api_key, "GET", "/v1/experiments")
    if as_json:
        return print_json(data)
    rows = [
        (e["id"], e["key"], e["status"], (e["start"] or "")[:10], e["name"])
        for e in data["experiments"]
    ]
    # The name last: the one column that may wrap (variants and metrics are in `show`).
    columns = ("id", "key", "status", "start", "name")
    console.print(listing(columns, rows, optional=("start",)))


@experiments_app.command("create")
def create_cmd(
    name: Annotated[str, typer.Option(help="What it tests")],
    variant: Annotated[
        list[str],
        typer.Option(
            help="NAME:DIMENSION=VALUE[:WEIGHT], repeat; the first is the control "
            "(e.g. --variant control:prompt_version=v1:50)"
        ),
    ],
    key_: Annotated[
        str | None, typer.Option("--key", help="Assignment key (default: from the name)")
    ] = None,
    hypothesis: Annotated[str | None, typer.Option()] = None,
    primary: Annotated[str, typer.Option(help="Primary metric")] = "success_rate",
    guardrail: Annotated[
        list[str] | None,
        typer.Option(
            help="Guardrail metric, repeat (default latency_p95_ms, cost_per_request_usd)"
        ),
    ] = None,
    mde: Annotated[float | None, typer.Option(help="Minimum detectable effect, absolute")] = None,
    alpha: Annotated[float, typer.Option()] = 0.05,
    power: Annotated[float, typer.Option()] = 0.8,
    project: Annotated[str | None, typer.Option(help="Needed with an admin key")] = None,
    url: Url = DEFAULT_URL,
    api_key: Key = "",
    as_json: Json = False,
) -> None:
    """Create an experiment (needs a key with the admin scope)."""
    body: dict[str, Any] = {
        "name": name,
        "key": key_,
        "hypothesis": hypothesis,
        "variants": [_variant(v) for v in variant],
        "primary_metric": primary,
        "mde": mde,
        "alpha": alpha,
        "power": power,
    }
    if guardrail is not None:
        body["guardrails"] = guardrail
    params = {"project": project} if project else None
    data = call(url, api_key, "POST", "/v1/experiments", json=body, params=params)
    if as_json:
        return _dump(data)
    console.print(f"created experiment {data['id']} (key {data['key']})")


def _variant(option: str) -> dict[str, Any]:
    """`--variant NAME:DIMENSION=VALUE[:WEIGHT]` as the API's variant (weight 1 by default)."""
    parts = option.split(":")
    if len(parts) not in (2, 3) or "=" not in parts[1]:
        raise typer.BadParameter(
            f"--variant '{option}' must look like control:prompt_version=v1:50"
        )
    try:
        weight = float(parts[2]) if len(parts) == 3 else 1.0
    except ValueError:
        raise typer.BadParameter(f"--variant '{option}': the weight must be a number") from None
    return {"name": parts[0], "filter": parts[1], "weight": weight}


@experiments_app.command("show")
def show_cmd(
    ref: Annotated[str, typer.Argument(help="Experiment id or key (or a unique start)")],
    url: Url = DEFAULT_URL,
    api_key: Key = "",
) -> None:
    """One experiment's settings, as JSON."""
    _dump(call(url, api_key, "GET", f"/v1/experiments/{_ref(url, api_key, ref)}"))


def _interval(c: dict[str, Any]) -> str:
    """low … high, with its level when Holm widened it beyond 95 % (3+ variants)."""
    level = c.get("ci_level") or 0.95
    unit = _unit(c["metric"])
    text = f"{fmt.difference(c['ci_low'], unit)} … {fmt.difference(c['ci_high'], unit)}"
    return text if abs(level - 0.95) < 1e-9 else f"{text} ({fmt.pct(level)})"


@experiments_app.command("results")
def results_cmd(
    ref: Annotated[str, typer.Argument(help="Experiment id or key (or a unique start)")],
    url: Url = DEFAULT_URL,
    api_key: Key = "",
    as_json: Json = False,
) -> None:
    """Comparison, sample-ratio check, sequential decision and plan."""
    data = call(url, api_key, "GET", f"/v1/experiments/{_ref(url, api_key, ref)}/results")
    if as_json:
        return _dump(data)
    # Whole figures at 80 columns: no border lines, the test named in --json, significance
    # as a star on the difference.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for head in ("metric", "variant", "difference", "95% CI (Holm)", "p (adj.)"):
        table.add_column(head, no_wrap=True)
    for c in data["comparisons"]:
        star = " *" if c["significant"] else ""
        table.add_row(c["metric"], c["variant"], fmt.difference(c["difference"],
                      _unit(c["metric"])) + star, _interval(c),
                      fmt.p_value(c["p_value_adjusted"]))  # fmt: skip
    console.print(table)
    console.print("* significant after the Holm adjustment (tests and raw figures: --json)")
    srm = data["srm"]
    style = "bold red" if srm["mismatch"] else "green"
    console.print(f"[{style}]sample ratio: {srm['message']}[/{style}]")
    plan = data["plan"]
    if plan.get("per_variant"):
        console.print(
            f"plan: {fmt.count(plan['per_variant'])} calls per variant, "
            f"{fmt.number(plan.get('days_to_go'))} days to go"
        )
    console.print(f"verdict: {data['verdict']}")
    console.print(f"[bold]decision: {data['decision']}[/bold]")


@experiments_app.command("stop")
def stop_cmd(
    ref: Annotated[str, typer.Argument(help="Experiment id or key (or a unique start)")],
    url: Url = DEFAULT_URL,
    api_key: Key = "",
) -> None:
    """Mark an experiment stopped (its results stay)."""
    ref = _ref(url, api_key, ref)
    data = call(url, api_key, "PATCH", f"/v1/experiments/{ref}", json={"status": "stopped"})
    console.print(f"stopped {data['id']} ({data['key']})")


@experiments_app.command("delete")
def delete_cmd(
    ref: Annotated[str, typer.Argument(help="Experiment id or key (or a unique start)")],
    url: Url = DEFAULT_URL,
    api_key: Key = "",
) -> None:
    """Delete an experiment and its exposures."""
    ref = _ref(url, api_key, ref)
    call(url, api_key, "DELETE", f"/v1/experiments/{ref}")
    console.print(f"deleted {ref}")


@experiments_app.command("plan")
def plan_cmd(
    mde: Annotated[float, typer.Option(help="Minimum detectable effect, absolute")],
    baseline: Annotated[float | None, typer.Option(help="Current rate (proportions)")] = None,
    sd: Annotated[float | None, typer.Option(help="Standard deviation (means)")] = None,
    alpha: Annotated[float, typer.Option()] = 0.05,
    power: Annotated[float, typer.Option()] = 0.8,
    daily_calls: Annotated[float | None, typer.Option(help="Calls per day, all variants")] = None,
) -> None:
    """Calls needed per variant (computed here; no server needed)."""
    from promptpulse.experiments import power as pw

    if (baseline is None) == (sd is None):
        raise typer.BadParameter("give --baseline (a rate) or --sd (a mean's spread)")
    plan = (
        pw.sample_size_proportions(baseline, mde, alpha, power)
        if baseline is not None
        else pw.sample_size_means(sd or 0.0, mde, alpha, power)
    )
    console.print(f"{plan.per_variant} calls per variant ({2 * plan.per_variant} for two)")
    if daily_calls:
        console.print(
            f"about {fmt.number(2 * plan.per_variant / daily_calls)} days at "
            f"{fmt.count(daily_calls)} calls per day"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(experiments_app, name="experiments")
