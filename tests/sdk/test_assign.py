"""client.assign: the SDKs' sticky variant, the same as the server's, with exposures recorded."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from promptpulse.sdk import Client
from promptpulse.sdk.assign import assign
from tests.conftest import LiveServer

JS = Path(__file__).resolve().parents[2] / "clients" / "js"


def _experiment(live: LiveServer, project: str, key: str) -> dict:
    with live.client(live.key(None, "admin")) as admin:
        r = admin.post(
            "/v1/experiments",
            json={
                "name": key,
                "key": key,
                "project": project,
                "variants": [
                    {"filter": "prompt_version=v1", "weight": 70},
                    {"filter": "prompt_version=v2", "weight": 30},
                ],
            },
            params={"project": project},
        )
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def test_python_assign_matches_the_server_and_records_exposures(
    live: LiveServer, project: str
) -> None:
    exp = _experiment(live, project, f"exp-{project}")
    split = {"v1": 70, "v2": 30}
    pp = Client(live.url, live.key(project, "ingest,read"), flush_interval=0.05)
    units = [f"user-{i}" for i in range(300)]
    chosen = [pp.assign(exp["key"], u, split) for u in units]
    assert chosen == [pp.assign(exp["key"], u, split, record=False) for u in units]  # sticky
    assert chosen == [assign(exp["key"], u, split) for u in units]
    assert pp.flush(timeout=30)
    pp.close()
    with live.client(live.key(project, "read")) as c:
        for u, v in list(zip(units, chosen, strict=True))[:20]:
            server = c.get(f"/v1/experiments/{exp['id']}/assign", params={"unit_id": u}).json()
            assert server["variant"] == v
        srm = c.get(f"/v1/experiments/{exp['id']}/results").json()["srm"]
    assert srm["source"] == "exposures"
    assert sorted(srm["observed"]) == sorted([chosen.count("v1"), chosen.count("v2")])


def test_js_client_assign_agrees_and_records(live: LiveServer, project: str) -> None:
    exp = _experiment(live, project, f"js-{project}")
    units = [f"u{i}" for i in range(50)]
    script = f"""
      import {{ PromptPulse }} from "./index.js";
      const pp = new PromptPulse({{ url: {json.dumps(live.url)},
                                   apiKey: {json.dumps(live.key(project))}, flushInterval: 50 }});
      const units = {json.dumps(units)};
      const out = units.map((u) => pp.assign({json.dumps(exp["key"])}, u, {{ v1: 70, v2: 30 }}));
      await pp.flush();
      await pp.close?.();
      console.log(JSON.stringify(out));
    """
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == [assign(exp["key"], u, {"v1": 70, "v2": 30}) for u in units]
    with live.client(live.key(project, "read")) as c:
        srm = c.get(f"/v1/experiments/{exp['id']}/results").json()["srm"]
    assert srm["source"] == "exposures" and sum(srm["observed"]) == len(units)
