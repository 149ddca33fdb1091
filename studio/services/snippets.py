"""Drafts and snippets: a new draft from an earlier generation, and the API request that
reproduces a generation outside the studio."""

from __future__ import annotations

import json
import pprint
from typing import Any

from ..errors import ParamsError
from ..models import VIDEO_GENERATION_NODE_TYPE_ID, Generation, VideoGenerationParams

DRAFT_KEEP = ("all", "prompt", "settings")  # all settings / prompt only / all but the prompt


def draft_from(gen: Generation, keep: str = "all") -> dict[str, Any]:
    "Values for a new draft from an earlier generation: everything, the prompt only, or all but it."
    if keep not in DRAFT_KEEP:
        raise ParamsError(f"keep must be one of {', '.join(DRAFT_KEEP)}")
    params = gen.params.model_dump()
    if keep == "prompt":
        return {"prompt": params["prompt"]}
    if keep == "settings":
        params.pop("prompt")
    return params


def api_request(
    params: VideoGenerationParams, *, language: str = "curl", base_url: str = "https://api.mosaic.so"
) -> str:
    "A snippet reproducing this generation with the brief's three calls; the key is a placeholder."
    if language == "python":
        node = pprint.pformat(params.to_api(), indent=2, sort_dicts=False)
        return f'''import time, httpx

api = httpx.Client(base_url="{base_url}", headers={{"Authorization": "Bearer mk_your_api_key"}}, timeout=30)
agent_id = api.post("/agent/create", json={{"name": "Prompt Studio draft", "visibility": "private"}}).json()["agent_id"]
api.post(f"/agent/{{agent_id}}/update", json={{"operations": [{{
    "op": "create_node", "node_type_id": "{VIDEO_GENERATION_NODE_TYPE_ID}",
    "params_used": {node.replace(chr(10), chr(10) + "    ")},
}}]}})
run_id = api.post(f"/agent/{{agent_id}}/run", json={{}}).json()["run_id"]
while (run := api.get(f"/agent_run/{{run_id}}").json())["status"] == "running":
    time.sleep(5)
print(run["status"], [o["video_url"] for o in run.get("outputs", [])])
'''
    if language != "curl":
        raise ParamsError("language must be curl or python")
    body = json.dumps(
        {
            "operations": [
                {"op": "create_node", "node_type_id": VIDEO_GENERATION_NODE_TYPE_ID, "params_used": params.to_api()}
            ]
        },
        indent=2,
    )
    quoted = body.replace("'", "'\\''")
    return f'''curl -X POST "{base_url}/agent/create" \\
  -H "Authorization: Bearer mk_your_api_key" -H "Content-Type: application/json" \\
  -d '{{"name": "Prompt Studio draft", "visibility": "private"}}'

curl -X POST "{base_url}/agent/AGENT_ID/update" \\
  -H "Authorization: Bearer mk_your_api_key" -H "Content-Type: application/json" \\
  -d '{quoted}'

curl -X POST "{base_url}/agent/AGENT_ID/run" \\
  -H "Authorization: Bearer mk_your_api_key" -H "Content-Type: application/json" -d '{{}}'
'''
