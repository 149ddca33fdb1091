"""Drafts and snippets: a new draft from an earlier generation, and the programs (bash with curl
and jq, or Python with httpx) that make a generation again through the Mosaic API, from creating
the agent to the downloaded file."""

from __future__ import annotations

import json
import shlex
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


FLOWS = ("one_call", "three_call")  # what the studio does per video / the documented sequence
LANGUAGES = ("curl", "python")
SNIPPET_KEY = "mk_your_api_key"  # a placeholder: the studio never shows a real key
SNIPPET_POLL_S = 5  # the snippets' wait between polls (a real run takes minutes)
SNIPPET_OUTPUT = "mosaic-video.mp4"
FINAL_RUN_STATUSES = ("completed", "partial_complete", "failed", "cancelled")
PRODUCED_RUN_STATUSES = ("completed", "partial_complete")


def api_request(
    params: VideoGenerationParams,
    *,
    language: str = "curl",
    flow: str = "one_call",
    base_url: str = "https://api.mosaic.so",
) -> str:
    """A complete program that makes this video again through the Mosaic API and saves the file.

    `flow` "one_call" is what the studio does: an agent with one Video Generation node, set up
    once, then one `POST /agent/{id}/run` per video with the settings in `update_params`.
    "three_call" is the documented sequence: create the agent, add the node with the settings,
    run. Both poll `GET /agent_run/{id}` until the run ends and download the output's video_url.
    curl comes as a bash script (curl + jq, ids captured into variables); Python uses httpx and
    is black-formatted. The key is always the placeholder SNIPPET_KEY.
    """
    if language not in LANGUAGES:
        raise ParamsError("language must be curl or python", field="language")
    if flow not in FLOWS:
        raise ParamsError("flow must be one_call or three_call", field="flow")
    node = params.to_api()
    if language == "python":
        return _python(node, flow, base_url)
    return _bash(node, flow, base_url)


def _py_literal(value: Any, indent: int = 0) -> str:
    "A Python literal laid out as black leaves it (one item a line, magic trailing commas)."
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict) and value:
        items = "".join(f"{inner}{json.dumps(k)}: {_py_literal(v, indent + 4)},\n" for k, v in value.items())
        return "{\n" + items + pad + "}"
    if isinstance(value, list) and value:
        return "[\n" + "".join(f"{inner}{_py_literal(v, indent + 4)},\n" for v in value) + pad + "]"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return _py_string(value)
    return "{}" if isinstance(value, dict) else "[]" if isinstance(value, list) else repr(value)


def _py_string(text: str) -> str:
    "A string literal as black writes it: double quotes, unless single quotes need fewer escapes."
    body = json.dumps(text, ensure_ascii=False)[1:-1]  # JSON's escapes are valid Python too
    if text.count('"') <= text.count("'"):
        return f'"{body}"'
    return "'" + body.replace('\\"', '"').replace("'", "\\'") + "'"


PY_HEAD = '''"""Make a video again through the Mosaic API, and save it.

{what}.

Needs Python 3.11+ and httpx (pip install httpx). Put your own API key in API_KEY.
"""

import time

import httpx

BASE_URL = {base_url}
API_KEY = "{key}"  # your own key
VIDEO_GENERATION_NODE = "{node_type}"
POLL_SECONDS = {poll}
OUTPUT_FILE = "{output}"
PARAMS = {params}

api = httpx.Client(
    base_url=BASE_URL,
    headers={{"Authorization": f"Bearer {{API_KEY}}"}},
    timeout=60,
)

'''

PY_ONE_CALL = """# Once: an agent with one Video Generation node; keep agent_id and node_id for later videos.
agent = api.post("/agent/create", json={"name": "Prompt Studio"})
agent_id = agent.raise_for_status().json()["agent_id"]
create_node = {
    "op": "create_node",
    "node_type_id": VIDEO_GENERATION_NODE,
    "params_used": PARAMS,
}
update = api.post(f"/agent/{agent_id}/update", json={"operations": [create_node]})
node_id = update.raise_for_status().json()["created_nodes"][0]["agent_node_id"]

# Each video: one call, with this video's settings for the node.
run_body = {"update_params": {node_id: PARAMS}}
started = api.post(f"/agent/{agent_id}/run", json=run_body)
run_id = started.raise_for_status().json()["run_id"]
"""

PY_THREE_CALL = """# 1. Create an agent.
agent = api.post("/agent/create", json={"name": "Prompt Studio"})
agent_id = agent.raise_for_status().json()["agent_id"]

# 2. Add the Video Generation node with the settings.
create_node = {
    "op": "create_node",
    "node_type_id": VIDEO_GENERATION_NODE,
    "params_used": PARAMS,
}
update = api.post(f"/agent/{agent_id}/update", json={"operations": [create_node]})
update.raise_for_status()

# 3. Run it.
started = api.post(f"/agent/{agent_id}/run", json={})
run_id = started.raise_for_status().json()["run_id"]
"""

PY_TAIL = """
# Poll until the run ends (a real run takes minutes).
while True:
    run = api.get(f"/agent_run/{run_id}").raise_for_status().json()
    if run["status"] in {FINAL}:
        break
    print(run["status"], "...")
    time.sleep(POLL_SECONDS)
status, errors = run["status"], run.get("errors")
if status not in {PRODUCED} or not run.get("outputs"):
    raise SystemExit(f"The run ended {status}: {errors}")

# Download the video (a signed URL: no API key needed).
with httpx.stream("GET", run["outputs"][0]["video_url"], timeout=300) as video:
    video.raise_for_status()
    with open(OUTPUT_FILE, "wb") as out:
        out.writelines(video.iter_bytes())
print("Saved", OUTPUT_FILE)
"""


def _python(node: dict[str, Any], flow: str, base_url: str) -> str:
    what = (
        "The studio's flow: an agent with its node once, then one run call per video"
        if flow == "one_call"
        else "The documented three calls: create an agent, add the node, run"
    )
    head = PY_HEAD.format(
        what=what,
        base_url=json.dumps(base_url),
        key=SNIPPET_KEY,
        node_type=VIDEO_GENERATION_NODE_TYPE_ID,
        poll=SNIPPET_POLL_S,
        output=SNIPPET_OUTPUT,
        params=_py_literal(node),
    )
    tail = PY_TAIL.replace("{FINAL}", _py_set(FINAL_RUN_STATUSES)).replace("{PRODUCED}", _py_set(PRODUCED_RUN_STATUSES))
    return head + (PY_ONE_CALL if flow == "one_call" else PY_THREE_CALL) + tail


def _py_set(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(json.dumps(v) for v in values) + ")"


BASH_HEAD = """#!/usr/bin/env bash
# Make a video again through the Mosaic API, and save it.
# {what}.
# Needs curl and jq. Put your own API key in API_KEY.
set -euo pipefail

BASE_URL={base_url}
API_KEY="{key}"  # your own key
VIDEO_GENERATION_NODE="{node_type}"
POLL_SECONDS={poll}
OUTPUT_FILE="{output}"
PARAMS=$(cat <<'JSON'
{params}
JSON
)

api() {{  # api METHOD PATH [JSON_BODY]: one call, the answer on stdout, stop on an HTTP error
  curl -sS --fail-with-body -X "$1" "$BASE_URL$2" \\
    -H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json" ${{3:+-d "$3"}}
}}

"""

BASH_ONE_CALL = """# Once: an agent with one Video Generation node; keep AGENT_ID and NODE_ID for later videos.
AGENT_ID=$(api POST /agent/create '{"name": "Prompt Studio", "visibility": "private"}' | jq -r .agent_id)
NODE_OP=$(jq -n --arg type "$VIDEO_GENERATION_NODE" --argjson p "$PARAMS" \\
  '{operations: [{op: "create_node", node_type_id: $type, params_used: $p}]}')
NODE_ID=$(api POST "/agent/$AGENT_ID/update" "$NODE_OP" | jq -r '.created_nodes[0].agent_node_id')

# Each video: one call, with this video's settings for the node.
RUN_ID=$(api POST "/agent/$AGENT_ID/run" "$(jq -n --arg node "$NODE_ID" --argjson p "$PARAMS" \\
  '{update_params: {($node): $p}}')" | jq -r .run_id)
"""

BASH_THREE_CALL = """# 1. Create an agent.
AGENT_ID=$(api POST /agent/create '{"name": "Prompt Studio", "visibility": "private"}' | jq -r .agent_id)
# 2. Add the Video Generation node with the settings.
NODE_OP=$(jq -n --arg type "$VIDEO_GENERATION_NODE" --argjson p "$PARAMS" \\
  '{operations: [{op: "create_node", node_type_id: $type, params_used: $p}]}')
api POST "/agent/$AGENT_ID/update" "$NODE_OP" > /dev/null
# 3. Run it.
RUN_ID=$(api POST "/agent/$AGENT_ID/run" '{}' | jq -r .run_id)
"""

BASH_TAIL = """echo "Run $RUN_ID started"

# Poll until the run ends (a real run takes minutes).
while :; do
  RUN=$(api GET "/agent_run/$RUN_ID")
  STATUS=$(jq -r .status <<<"$RUN")
  case "$STATUS" in {final}) break ;; esac
  echo "$STATUS ..."
  sleep "$POLL_SECONDS"
done
VIDEO_URL=$(jq -r '.outputs[0].video_url // empty' <<<"$RUN")
case "$STATUS" in {produced}) ;; *) VIDEO_URL="" ;; esac
if [ -z "$VIDEO_URL" ]; then
  echo "The run ended $STATUS: $(jq -c .errors <<<"$RUN")" >&2
  exit 1
fi

# Download the video (a signed URL: no API key needed).
curl -sS --fail -o "$OUTPUT_FILE" "$VIDEO_URL"
echo "Saved $OUTPUT_FILE"
"""


def _bash(node: dict[str, Any], flow: str, base_url: str) -> str:
    what = (
        "The studio's flow: an agent with its node once, then one run call per video"
        if flow == "one_call"
        else "The documented three calls: create an agent, add the node, run"
    )
    head = BASH_HEAD.format(
        what=what,
        base_url=shlex.quote(base_url),
        key=SNIPPET_KEY,
        node_type=VIDEO_GENERATION_NODE_TYPE_ID,
        poll=SNIPPET_POLL_S,
        output=SNIPPET_OUTPUT,
        params=json.dumps(node, indent=2, ensure_ascii=False),
    )
    tail = BASH_TAIL.format(final="|".join(FINAL_RUN_STATUSES), produced="|".join(PRODUCED_RUN_STATUSES))
    return head + (BASH_ONE_CALL if flow == "one_call" else BASH_THREE_CALL) + tail
