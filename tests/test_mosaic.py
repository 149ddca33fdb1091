"""The Mosaic client: retry policy tables, error translation, retry modes per call, the key's
confinement to the API host, and every call's request and typed answer, against `FakeApi`."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from fakes import FAKE_KEY, FakeApi

from studio import errors
from studio.models import VIDEO_GENERATION_NODE_TYPE_ID, Run, VideoGenerationParams
from studio.mosaic import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
    MosaicClient,
    parse_retry_after,
    retry_delay,
    should_retry_status,
)
from studio.settings import Settings

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def client(api: FakeApi):
    with api.client() as c:
        yield c


def _agent_with_node(client: MosaicClient) -> tuple[str, str]:
    agent_id = client.create_agent("studio").agent_id
    return agent_id, client.add_video_node(agent_id)


# ---------------------------------------------------------------- pure policy tables


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0),
        ({"retry-after": "2"}, 2.0),
        ({"Retry-After": " 7 "}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "61"}, 61.0),
        ({"retry-after": format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)}, 30.0),
        ({"retry-after": "Sun, 01 Mar 2026 12:00:45 -0000"}, 45.0),
        ({"retry-after": "-10"}, None),
        ({"retry-after-ms": "-5"}, None),
        ({"retry-after": "99999999999999999999999999999999999"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "Zun, 29 Sep 2026 16:26:57 GMT"}, None),
        ({"retry-after": "Sun, 01 Mar 2026 11:59:00 GMT"}, None),  # already past
        ({"retry-after": "soon"}, None),
        ({"retry-after": ""}, None),
        ({}, None),
        (None, None),
    ],
)
def test_parse_retry_after(headers, expected):
    got = parse_retry_after(headers, now=lambda: NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    ("attempt", "headers", "expected"),
    [
        (0, None, 0.5),
        (1, None, 1.0),
        (2, None, 2.0),
        (3, None, 4.0),
        (4, None, 8.0),
        (5, None, MAX_RETRY_DELAY),
        (1000, None, MAX_RETRY_DELAY),
        (0, {"retry-after": "2"}, 2.0),
        (3, {"retry-after-ms": "300"}, 0.3),
        (0, {"retry-after": str(int(MAX_RETRY_AFTER))}, MAX_RETRY_AFTER),
        (1, {"retry-after": "61"}, 1.0),  # above the cap: backoff, not a minute-plus block
        (1, {"retry-after": "0"}, 1.0),
        (1, {"retry-after": "-3"}, 1.0),
        (2, {"retry-after": "Zun, 29 Sep 2026 16:26:57 GMT"}, 2.0),
    ],
)
def test_retry_delay_without_jitter(attempt, headers, expected):
    assert retry_delay(attempt, headers, random=lambda: 0.0) == pytest.approx(expected)


@pytest.mark.parametrize("attempt", [0, 1, 2, 3, 4, 10])
@pytest.mark.parametrize("rand", [0.0, 0.25, 0.5, 0.999999])
def test_retry_delay_jitter_stays_within_a_quarter(attempt, rand):
    base = min(0.5 * 2**attempt, MAX_RETRY_DELAY)
    delay = retry_delay(attempt, random=lambda: rand)
    assert delay == pytest.approx(base * (1 - 0.25 * rand))
    assert 0.75 * base < delay <= base


def test_retry_after_is_not_jittered():
    assert retry_delay(0, {"retry-after": "5"}, random=lambda: 0.9) == 5.0


@pytest.mark.parametrize(
    ("code", "retry"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (413, False),
        (422, False),
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (501, False),
        (418, False),
    ],
)
def test_should_retry_status(code, retry):
    assert should_retry_status(code) is retry


# ---------------------------------------------------------------- construction


def test_timeouts_are_explicit_and_reach_every_request(api, client):
    assert client.timeout == DEFAULT_TIMEOUT
    assert client.max_retries == DEFAULT_MAX_RETRIES
    client.whoami()
    assert api.requests[0].timeout == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}


def test_from_settings_uses_settings_and_base_url_override():
    api = FakeApi(base_url="http://127.0.0.1:8765/sim")
    settings = Settings(api_key=FAKE_KEY, base_url="https://api.mosaic.so", timeout=12, max_retries=1)
    with MosaicClient.from_settings(settings, base_url=api.base_url, transport=api.transport()) as c:
        assert c.base_url == "http://127.0.0.1:8765/sim"
        assert c.max_retries == 1
        assert c.timeout.read == 12 and c.timeout.connect == 5
        c.whoami()
    assert str(api.requests[0].url) == "http://127.0.0.1:8765/sim/whoami"
    assert api.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"


def test_from_settings_without_key_sends_the_simulator_key(monkeypatch):
    monkeypatch.delenv("MOSAIC_API_KEY", raising=False)
    api = FakeApi(key="mk_local_simulator")
    with MosaicClient.from_settings(Settings(api_key=None), base_url=api.base_url, transport=api.transport()) as c:
        assert c.whoami().organization_name == "Test Org"


def test_float_timeout_keeps_a_short_connect_timeout(api):
    with api.client(timeout=60) as c:
        assert c.timeout.read == 60 and c.timeout.connect == 5


def test_repr_shows_base_url_only(client):
    assert repr(client) == "MosaicClient(base_url='https://api.mosaic.test')"


# ---------------------------------------------------------------- status -> error


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (413, errors.PayloadTooLargeError),
        (422, errors.BadRequestError),
        (429, errors.RateLimitError),
        (500, errors.ServerError),
        (502, errors.ServerError),
        (503, errors.ServerError),
        (418, errors.ApiStatusError),
    ],
)
def test_status_maps_to_error_class(api, status, cls):
    api.enqueue("GET", "/agent_run/r1", status, json={"detail": "nope"})
    with api.client(max_retries=0) as c, pytest.raises(errors.ApiStatusError) as info:
        c.get_run("r1")
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert info.value.detail == "nope"
    assert str(info.value).startswith("GET /agent_run/r1: ")
    assert f"(HTTP {status}): nope" in str(info.value)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"json": {"detail": "Run is not failed or cancelled"}}, "Run is not failed or cancelled"),
        (
            {
                "json": {
                    "detail": [
                        {"loc": ["body", "update_params", "x"], "msg": "unknown node", "type": "v"},
                        {"loc": ["body", "callback_url"], "msg": "invalid URL", "type": "v"},
                    ]
                }
            },
            "update_params.x: unknown node; callback_url: invalid URL",
        ),
        ({"json": {"detail": [{"msg": "bad"}]}}, "bad"),
        ({"json": {"error": "rate_limit"}}, "rate_limit"),
        ({"json": {"detail": "Request failed", "error": "request_error"}}, "Request failed"),
        ({"json": {"something": "else"}}, None),
        ({"text": "upstream connect error"}, "upstream connect error"),
        ({"text": "<html><title>502 Bad Gateway</title><body>...</body></html>"}, "502 Bad Gateway"),
        ({"text": "<Error><Code>X</Code><Message>Policy expired</Message></Error>"}, "Policy expired"),
        ({"text": "x" * 2000}, "x" * 499 + "…"),
        ({}, None),
    ],
)
def test_error_detail_extraction(api, body, detail):
    api.enqueue("POST", "/agent_run/r1/resume", 400, **body)
    with pytest.raises(errors.BadRequestError) as info, api.client() as c:
        c.resume_run("r1")
    assert info.value.detail == detail
    if detail is None:
        assert str(info.value) == "POST /agent_run/r1/resume: Mosaic rejected the request (HTTP 400)"


def test_error_keeps_parsed_body_and_retry_after(api):
    api.enqueue(
        "POST",
        "/agent/{id}/run",
        429,
        json={"detail": "slow down", "error": "rate_limit"},
        headers={"Retry-After": "120"},
        times=10,
    )
    with api.client(max_retries=1) as c, pytest.raises(errors.RateLimitError) as info:
        agent_id, _ = _agent_with_node(c)
        c.run_agent(agent_id)
    assert info.value.body == {"detail": "slow down", "error": "rate_limit"}
    assert info.value.retry_after == 120.0  # the job runner can reschedule with it
    assert api.sleeps == [0.5]  # 120 s is above MAX_RETRY_AFTER: backoff inside the call


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            {"text": "<html>hello</html>", "headers": {"content-type": "text/html"}},
            "POST /agent/a1/run: Mosaic answered HTTP 200 with a body that is not JSON (text/html)",
        ),
        ({"json": {"status": "ok"}}, "POST /agent/a1/run: unexpected answer from Mosaic (run_id: Field required)"),
        ({"json": ["run"]}, "POST /agent/a1/run: unexpected answer from Mosaic (body: Input should be"),
        ({}, "POST /agent/a1/run: unexpected answer from Mosaic (body: Input should be"),
    ],
)
def test_unusable_2xx_bodies_raise_api_error(api, client, reply, message):
    api.enqueue("POST", "/agent/a1/run", 200, **reply)
    with pytest.raises(errors.ApiError) as info:
        client.run_agent("a1")
    assert type(info.value) is errors.ApiError
    assert str(info.value).startswith(message)
    assert len(api.calls("POST", "/agent/a1/run")) == 1


# ---------------------------------------------------------------- transport errors


@pytest.mark.parametrize(
    ("exc", "cls", "sent"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), errors.ApiConnectionError, False),
        (httpx.ConnectTimeout("timed out"), errors.ApiTimeoutError, False),
        (httpx.PoolTimeout("no connection"), errors.ApiTimeoutError, False),
        (httpx.ReadTimeout("timed out"), errors.ApiTimeoutError, True),
        (httpx.WriteTimeout("timed out"), errors.ApiTimeoutError, True),
        (httpx.ReadError("reset by peer"), errors.ApiConnectionError, True),
        (httpx.WriteError("broken pipe"), errors.ApiConnectionError, True),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), errors.ApiConnectionError, True),
    ],
)
def test_transport_errors_are_wrapped_with_cause(api, exc, cls, sent):
    api.enqueue("GET", "/whoami", exc=exc)
    with api.client(max_retries=0) as c, pytest.raises(errors.ApiConnectionError) as info:
        c.whoami()
    assert type(info.value) is cls
    assert info.value.request_sent is sent
    assert info.value.__cause__ is exc
    assert str(info.value).startswith("GET /whoami: ")


def test_unsupported_protocol_is_not_retried(api, client):
    api.enqueue("GET", "/whoami", exc=httpx.UnsupportedProtocol("Request URL has an unsupported protocol"))
    with pytest.raises(errors.ApiError) as info:
        client.whoami()
    assert type(info.value) is errors.ApiError
    assert len(api.requests) == 1


# ---------------------------------------------------------------- retry modes


def test_get_retries_503_then_succeeds_honouring_retry_after(api, client):
    api.enqueue("GET", "/whoami", 503, headers={"Retry-After": "2"})
    api.enqueue("GET", "/whoami", 503)
    api.enqueue("GET", "/whoami", 429, headers={"retry-after-ms": "250"})
    assert client.whoami().organization_id == "org-1"
    assert api.paths() == ["GET /whoami"] * 4
    assert api.sleeps == [2.0, 1.0, 0.25]


@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout("t"), httpx.RemoteProtocolError("dropped"), httpx.ConnectError("refused")]
)
def test_get_retries_network_failures(api, client, exc):
    api.enqueue("GET", "/credits", exc=exc, times=2)
    assert client.credits().current_balance == 1840
    assert len(api.requests) == 3
    assert api.sleeps == [0.5, 1.0]


def test_get_with_jitter_uses_injected_random(api):
    api.enqueue("GET", "/whoami", 500)
    with api.client(random=lambda: 1.0) as c:
        c.whoami()
    assert api.sleeps == [0.375]


def test_max_retries_exhausted_raises_last_error(api):
    api.enqueue("GET", "/whoami", 503, json={"detail": "first"}, times=3)
    api.enqueue("GET", "/whoami", 502, json={"detail": "last"})
    with api.client(max_retries=3) as c, pytest.raises(errors.ServerError) as info:
        c.whoami()
    assert info.value.status_code == 502 and info.value.detail == "last"
    assert len(api.requests) == 4
    assert api.sleeps == [0.5, 1.0, 2.0]


def test_zero_max_retries_makes_one_request(api):
    api.enqueue("GET", "/whoami", 503)
    with api.client(max_retries=0) as c, pytest.raises(errors.ServerError):
        c.whoami()
    assert len(api.requests) == 1 and api.sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_get_does_not_retry_client_errors(api, client, status):
    api.enqueue("GET", "/agent/a1", status, json={"detail": "no"})
    with pytest.raises(errors.ApiStatusError):
        client.get_agent("a1")
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("reply", "cls"),
    [
        ({"status": 500}, errors.ServerError),
        ({"status": 502}, errors.ServerError),
        ({"status": 503, "headers": {"Retry-After": "1"}}, errors.ServerError),
        ({"status": 408}, errors.ApiStatusError),
        ({"exc": httpx.ReadTimeout("timed out")}, errors.ApiTimeoutError),
        ({"exc": httpx.WriteTimeout("timed out")}, errors.ApiTimeoutError),
        ({"exc": httpx.RemoteProtocolError("Server disconnected")}, errors.ApiConnectionError),
        ({"exc": httpx.ReadError("reset")}, errors.ApiConnectionError),
    ],
)
def test_run_is_never_repeated_once_mosaic_may_have_it(api, client, reply, cls):
    agent_id, node_id = _agent_with_node(client)
    api.enqueue("POST", "/agent/{id}/run", **reply)
    with pytest.raises(cls) as info:
        client.run_agent(agent_id, update_params={node_id: {"prompt": "a fox"}})
    assert len(api.calls("POST", "/agent/{id}/run")) == 1
    assert api.sleeps == []
    if isinstance(info.value, errors.ApiConnectionError):
        assert info.value.request_sent is True


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 429, "headers": {"Retry-After": "3"}},
        {"exc": httpx.ConnectError("refused")},
        {"exc": httpx.ConnectTimeout("timed out")},
        {"exc": httpx.PoolTimeout("pool")},
    ],
)
def test_run_is_retried_when_certainly_unprocessed(api, client, reply):
    agent_id, node_id = _agent_with_node(client)
    api.enqueue("POST", "/agent/{id}/run", **reply)
    started = client.run_agent(agent_id, update_params={node_id: {"prompt": "a fox"}})
    assert started.run_id in api.runs
    assert len(api.calls("POST", "/agent/{id}/run")) == 2
    assert len(api.runs) == 1
    assert api.sleeps == ([3.0] if "status" in reply else [0.5])


@pytest.mark.parametrize(
    ("method", "path", "call"),
    [
        ("POST", "/agent/create", lambda c: c.create_agent("x")),
        ("POST", "/agent/{id}/update", lambda c: c.update_agent("a1", [], name="y")),
        ("POST", "/agent_run/{id}/resume", lambda c: c.resume_run("r1")),
        ("POST", "/uploads/image/get_upload_url", lambda c: c.upload("image", b"png", "a.png")),
    ],
)
def test_other_unsent_calls_do_not_retry_5xx_or_timeouts(api, client, method, path, call):
    api.enqueue(method, path, 500)
    with pytest.raises(errors.ServerError):
        call(client)
    api.enqueue(method, path, exc=httpx.ReadTimeout("t"))
    with pytest.raises(errors.ApiTimeoutError):
        call(client)
    assert len(api.calls(method, path)) == 2
    assert api.sleeps == []


def test_cancel_is_safe_to_retry(api, client):
    agent_id, _ = _agent_with_node(client)
    api.run_status = "running"
    run_id = client.run_agent(agent_id).run_id
    api.enqueue("POST", "/agent_run/{id}/cancel", exc=httpx.ReadTimeout("t"))
    api.enqueue("POST", "/agent_run/{id}/cancel", 502)
    result = client.cancel_run(run_id)
    assert result.success is True and result.run_id == run_id
    assert len(api.calls("POST", "/agent_run/{id}/cancel")) == 3
    assert api.runs[run_id]["status"] == "cancelled"


def test_cancel_of_finished_run_is_a_conflict_not_retried(api, client):
    agent_id, _ = _agent_with_node(client)
    run_id = client.run_agent(agent_id).run_id
    with pytest.raises(errors.ConflictError):
        client.cancel_run(run_id)
    assert len(api.calls("POST", "/agent_run/{id}/cancel")) == 1


# ---------------------------------------------------------------- calls: requests and answers


def test_whoami_sends_bearer_key_and_json_accept(api, client):
    me = client.whoami()
    assert me.organization_slug == "test-org"
    sent = api.requests[0]
    assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["user-agent"].startswith("mosaic-prompt-studio")


def test_wrong_key_is_auth_error(api):
    with (
        MosaicClient(api.base_url, "mk_wrong", transport=api.transport(), sleep=api.sleeps.append) as c,
        pytest.raises(errors.AuthError, match="MOSAIC_API_KEY"),
    ):
        c.whoami()
    assert len(api.requests) == 1


def test_create_agent_and_add_video_node(api, client):
    change = client.create_agent("Prompt studio", description="pooled")
    params = VideoGenerationParams(prompt="A fox", duration="8", aspect_ratio="16:9")
    node_id = client.add_video_node(change.agent_id, params)
    assert api.calls("POST", "/agent/create")[0].json == {
        "name": "Prompt studio",
        "visibility": "private",
        "description": "pooled",
    }
    assert api.calls("POST", "/agent/{id}/update")[0].json == {
        "operations": [
            {
                "op": "create_node",
                "node_type_id": VIDEO_GENERATION_NODE_TYPE_ID,
                "temp_ref_id": "video_generation",
                "params_used": params.to_api(),
            }
        ]
    }
    agent = client.get_agent(change.agent_id)
    assert agent.agent.name == "Prompt studio"
    assert [n.agent_node_id for n in agent.agent_nodes] == [node_id]
    assert agent.agent_nodes[0].params_used["duration"] == "8"


def test_add_video_node_with_dict_or_nothing(api, client):
    agent_id = client.create_agent("a").agent_id
    client.add_video_node(agent_id, {"resolution": "480p"})
    client.add_video_node(agent_id)
    ops = [r.json["operations"][0] for r in api.calls("POST", "/agent/{id}/update")]
    assert ops[0]["params_used"] == {"resolution": "480p"}
    assert "params_used" not in ops[1]


def test_add_video_node_without_created_nodes_is_an_error(api, client):
    api.enqueue("POST", "/agent/a1/update", json={"success": True, "agent_id": "a1", "created_nodes": []})
    with pytest.raises(errors.ApiError, match="no created node"):
        client.add_video_node("a1")


def test_update_and_delete_node(api, client):
    agent_id, node_id = _agent_with_node(client)
    client.update_node(agent_id, node_id, {"prompt": "new"})
    assert client.get_agent(agent_id).agent_nodes[0].params_used == {"prompt": "new"}
    change = client.delete_node(agent_id, node_id)
    assert change.agent_id == agent_id
    assert client.get_agent(agent_id).agent_nodes == []
    bodies = [r.json for r in api.calls("POST", "/agent/{id}/update")][1:]
    assert bodies == [
        {"operations": [{"op": "update_node", "agent_node_id": node_id, "params_used": {"prompt": "new"}}]},
        {"operations": [{"op": "delete_node", "agent_node_id": node_id}]},
    ]


def test_update_agent_metadata_only_and_empty_update(api, client):
    agent_id = client.create_agent("a").agent_id
    client.update_agent(agent_id, [], name="b", description=None)
    assert api.requests[-1].json == {"name": "b"}
    with pytest.raises(errors.ParamsError):
        client.update_agent(agent_id, [])


def test_run_agent_body_and_poll(api, client):
    agent_id, node_id = _agent_with_node(client)
    started = client.run_agent(
        agent_id, update_params={node_id: {"prompt": "a fox"}}, callback_url="https://studio.test/hook"
    )
    assert api.calls("POST", "/agent/{id}/run")[0].json == {
        "update_params": {node_id: {"prompt": "a fox"}},
        "callback_url": "https://studio.test/hook",
    }
    run = client.get_run(started.run_id)
    assert run.run_id == started.run_id  # filled from the path
    assert run.is_terminal and run.status == "completed"
    assert run.output_for(node_id).video_url.startswith(api.storage_url)
    nodes = client.get_run_nodes(started.run_id)
    assert nodes.run_id == started.run_id and nodes.nodes[0].status == "completed"


def test_run_agent_without_params_sends_empty_object(api, client):
    agent_id, _ = _agent_with_node(client)
    client.run_agent(agent_id)
    assert api.calls("POST", "/agent/{id}/run")[0].json == {}


def test_run_agent_bad_update_params_is_bad_request(api, client):
    agent_id, _ = _agent_with_node(client)
    with pytest.raises(errors.BadRequestError, match="not a node of this agent"):
        client.run_agent(agent_id, update_params={"nope": {"prompt": "x"}})


def test_ids_are_quoted_into_one_path_segment(api, client):
    with pytest.raises(errors.NotFoundError):
        client.get_run("../credits")
    assert api.requests[0].url.raw_path == b"/agent_run/..%2Fcredits"
    with pytest.raises(errors.ParamsError, match="id is required"):
        client.get_run(" ")


def test_tolerant_parsing_keeps_unknown_fields_and_allows_missing_ones(api, client):
    api.enqueue(
        "GET",
        "/agent_run/r9",
        json={
            "status": "partial_complete",
            "brand_new_field": {"x": 1},
            "outputs": [
                {
                    "id": "o1",
                    "video_url": "https://s/v.mp4",
                    "premiere_prproj_url": None,
                    "sources": [{"provider": "getty"}],
                }
            ],
        },
    )
    run = client.get_run("r9")
    assert run.run_id == "r9" and run.status == "partial_complete"
    assert run.model_extra == {"brand_new_field": {"x": 1}}
    assert run.outputs[0].model_extra["sources"] == [{"provider": "getty"}]
    assert run.agent_id is None and run.errors == [] and run.needs_credits is False
    api.enqueue("GET", "/agent_run/r9", json={})
    assert client.get_run("r9").status == "running"
    api.enqueue("GET", "/credits", json={"organization_id": "o", "credits": {"balance": 12}, "plan": None})
    assert client.credits().current_balance == 12


def test_resume_run(api, client):
    agent_id, _ = _agent_with_node(client)
    api.run_status = "failed"
    run_id = client.run_agent(agent_id).run_id
    result = client.resume_run(run_id)
    assert result.success and result.nodes_queued == 1 and result.run_id == run_id
    with pytest.raises(errors.ConflictError):
        client.resume_run(run_id)


# ---------------------------------------------------------------- listing runs


def test_list_runs_builds_query(api, client):
    api.enqueue("GET", "/agent/a1/runs", json={"runs": [], "next_cursor": None})
    client.list_runs(
        "a1",
        since=datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
        until="2026-03-02T00:00:00Z",
        status=["running", "completed"],
        limit=50,
        cursor="c2",
    )
    assert api.requests[0].path == "/agent/a1/runs"
    assert api.requests[0].params == {
        "limit": "50",
        "from": "2026-03-01T12:30:00Z",
        "to": "2026-03-02T00:00:00Z",
        "status": "running,completed",
        "cursor": "c2",
    }


def test_list_runs_defaults_and_naive_datetime_as_utc(api, client):
    client.list_runs("a1", since=datetime(2026, 3, 1, 8, 0))
    assert api.requests[0].params == {"limit": "100", "from": "2026-03-01T08:00:00Z"}
    with pytest.raises(errors.ParamsError, match="limit"):
        client.list_runs("a1", limit=101)


def test_iter_runs_follows_cursors(api, client):
    agent_id, _ = _agent_with_node(client)
    run_ids = [client.run_agent(agent_id).run_id for _ in range(5)]
    got = list(client.iter_runs(agent_id, status="completed", limit=2))
    assert [r.run_id for r in got] == run_ids
    assert all(isinstance(r, Run) for r in got)
    pages = api.calls("GET", "/agent/{id}/runs")
    assert [p.params.get("cursor") for p in pages] == [None, "2", "4"]
    assert {p.params["status"] for p in pages} == {"completed"}


def test_iter_runs_stops_on_a_repeated_cursor(api, client):
    api.enqueue("GET", "/agent/a1/runs", json={"runs": [{"run_id": "r1"}], "next_cursor": "same"}, times=5)
    assert [r.run_id for r in client.iter_runs("a1")] == ["r1", "r1"]
    assert len(api.requests) == 2


# ---------------------------------------------------------------- uploads


def _multipart_names(body: bytes) -> list[str]:
    return [m.decode() for m in re.findall(rb'Content-Disposition: form-data; name="([^"]+)"', body)]


def test_upload_three_steps_fields_before_file(api, client):
    upload_id = client.upload("image", b"\x89PNG fake", "ref.png")
    assert api.paths() == ["POST /uploads/image/get_upload_url", "POST /upload", "POST /uploads/image/finalize_upload"]
    first, store, finalize = api.requests
    assert first.body == b""
    assert store.host == "storage.mosaic.test"
    assert _multipart_names(store.body) == ["key", "policy", "x-goog-signature", "file"]
    assert b'filename="ref.png"\r\nContent-Type: image/png' in store.body
    assert finalize.json == {"image_id": upload_id}
    assert api.uploads[upload_id]["file"] == b"\x89PNG fake"
    assert api.uploads[upload_id]["finalized"] is True


def test_upload_from_path_with_explicit_content_type(api, client, tmp_path):
    path = tmp_path / "voice.bin"
    path.write_bytes(b"RIFF....WAVE")
    upload_id = client.upload("audio", path, "voice.wav", content_type="audio/wav")
    assert api.uploads[upload_id]["file"] == b"RIFF....WAVE"
    assert b"Content-Type: audio/wav" in api.requests[1].body
    assert api.requests[2].json == {"audio_id": upload_id}


def test_upload_too_large_is_a_params_error_before_sending_the_file(api, client):
    api.max_upload_bytes = 10
    message = r"big\.mp4 is 11 bytes; Mosaic accepts video files up to 10 bytes"
    with pytest.raises(errors.ParamsError, match=message):
        client.upload("video", b"x" * 11, "big.mp4")
    assert api.paths() == ["POST /uploads/video/get_upload_url"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (Path("/nonexistent/x.png"), "Cannot read"),
    ],
)
def test_upload_bad_local_file_is_params_error(api, client, data, message):
    with pytest.raises(errors.ParamsError, match=message):
        client.upload("image", data, "x.png")
    assert api.requests == []


def test_upload_storage_step_is_retried_and_finalize_too(api, client, tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"MP4DATA")
    api.enqueue("POST", "/upload", exc=httpx.WriteError("broken pipe"))
    api.enqueue("POST", "/uploads/video/finalize_upload", 503)
    upload_id = client.upload("video", path, "clip.mp4")
    assert api.uploads[upload_id]["file"] == b"MP4DATA"  # the retry re-read the file from the start
    assert api.paths() == [
        "POST /uploads/video/get_upload_url",
        "POST /upload",
        "POST /upload",
        "POST /uploads/video/finalize_upload",
        "POST /uploads/video/finalize_upload",
    ]


def test_upload_storage_rejection_reads_gcs_xml(api, client):
    api.enqueue(
        "POST", "/upload", 403, text="<Error><Code>AccessDenied</Code><Message>Policy expired</Message></Error>"
    )
    with pytest.raises(errors.PermissionDeniedError) as info:
        client.upload("image", b"png", "a.png")
    assert info.value.detail == "Policy expired"
    assert str(info.value).startswith("POST storage.mosaic.test/upload: ")


def test_upload_answer_without_id_is_api_error(api, client):
    api.enqueue("POST", "/uploads/image/get_upload_url", json={"upload_url": "https://s/u"})
    with pytest.raises(errors.ApiError, match="no image_id"):
        client.upload("image", b"png", "a.png")


def test_upload_kind_is_checked(client):
    with pytest.raises(errors.ParamsError, match="pdf"):
        client.upload("pdf", b"x", "a.pdf")


# ---------------------------------------------------------------- downloads


def test_download_streams_to_dest_with_hash_and_no_key(api, client, tmp_path):
    content = b"\x00\x00\x00\x18ftypmp42" + b"v" * 5000
    url = api.add_file("v1.mp4", content)
    dest = tmp_path / "v1.mp4.part"
    assert client.download(url, dest) == (len(content), hashlib.sha256(content).hexdigest())
    assert dest.read_bytes() == content
    sent = api.requests[0]
    assert sent.host == "storage.mosaic.test"
    assert "authorization" not in sent.headers
    assert sent.params == {"X-Goog-Signature": "abc123"}


def test_download_retries_a_dropped_stream_and_starts_over(api, client, tmp_path):
    url = api.add_file("v2.mp4", b"complete video")
    api.enqueue("GET", "/media/v2.mp4", content=b"half", body_error=httpx.ReadError("reset"))
    api.enqueue("GET", "/media/v2.mp4", 503)
    dest = tmp_path / "v2.part"
    assert client.download(url, dest)[0] == len(b"complete video")
    assert dest.read_bytes() == b"complete video"
    assert api.sleeps == [0.5, 1.0]


def test_download_failure_removes_partial_file(api, client, tmp_path):
    url = api.add_file("v3.mp4", b"x")
    api.enqueue("GET", "/media/v3.mp4", content=b"part", body_error=httpx.ReadError("reset"), times=4)
    dest = tmp_path / "v3.part"
    with pytest.raises(errors.ApiConnectionError) as info:
        client.download(url, dest)
    assert not dest.exists()
    assert str(info.value).startswith("GET storage.mosaic.test/media/v3.mp4: ")
    assert "Signature" not in str(info.value)


def test_download_expired_url_is_status_error(api, client, tmp_path):
    with pytest.raises(errors.NotFoundError, match="The specified key does not exist"):
        client.download(f"{api.storage_url}/media/gone.mp4?sig=1", tmp_path / "g.part")
    assert len(api.requests) == 1


def test_download_relative_url_resolves_against_base_without_key(tmp_path):
    api = FakeApi(base_url="https://sim.test", storage_url="https://sim.test")
    api.files["/media/r.mp4"] = b"rel"
    with api.client() as c:
        assert c.download("/media/r.mp4", tmp_path / "r.part")[0] == 3
    assert str(api.requests[0].url) == "https://sim.test/media/r.mp4"
    assert "authorization" not in api.requests[0].headers


def test_download_unwritable_dest_is_store_error(api, client, tmp_path):
    url = api.add_file("v4.mp4", b"data")
    with pytest.raises(errors.StoreError):
        client.download(url, tmp_path / "missing-dir" / "v4.part")


# ---------------------------------------------------------------- the key never leaks


def _every_error(api: FakeApi, client: MosaicClient, tmp_path: Path) -> Iterator[Callable[[], object]]:
    echo = {"detail": f"bad header Authorization: Bearer {FAKE_KEY}"}
    for status in (400, 401, 403, 404, 409, 413, 422, 429, 500, 503, 418):
        api.enqueue("GET", "/whoami", status, json=echo, times=10)
        yield lambda: client.whoami()
    api.enqueue("GET", "/whoami", 500, text=f"proxy saw {FAKE_KEY}", times=10)
    yield lambda: client.whoami()
    for exc in (
        httpx.ConnectError(f"refused {FAKE_KEY}"),
        httpx.ConnectTimeout("t"),
        httpx.ReadTimeout("t"),
        httpx.RemoteProtocolError("dropped"),
        httpx.UnsupportedProtocol("bad"),
        httpx.DecodingError("gzip"),
    ):
        api.enqueue("GET", "/whoami", exc=exc, times=10)
        yield lambda: client.whoami()
    api.enqueue("GET", "/whoami", text="not json", times=10)
    yield lambda: client.whoami()
    api.enqueue("POST", "/agent/a1/run", json={"nope": FAKE_KEY})
    yield lambda: client.run_agent("a1")
    api.max_upload_bytes = 1
    yield lambda: client.upload("image", b"too big", "x.png")
    api.enqueue("POST", "/upload", 400, text="<Error><Message>bad</Message></Error>")
    api.max_upload_bytes = 100
    yield lambda: client.upload("image", b"ok", "x.png")
    yield lambda: client.download(f"{api.storage_url}/media/none.mp4", tmp_path / "n.part")


def test_key_never_appears_in_errors_reprs_or_logs(api, client, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    raised = []
    for trigger in _every_error(api, client, tmp_path):
        with pytest.raises(errors.StudioError) as info:
            trigger()
        raised.append(info.value)
        api._scripted.clear()
    assert len(raised) == 23
    assert {type(e) for e in raised} >= {
        errors.BadRequestError,
        errors.AuthError,
        errors.PermissionDeniedError,
        errors.NotFoundError,
        errors.ConflictError,
        errors.PayloadTooLargeError,
        errors.RateLimitError,
        errors.ServerError,
        errors.ApiStatusError,
        errors.ApiConnectionError,
        errors.ApiTimeoutError,
        errors.ApiError,
        errors.ParamsError,
    }
    for err in raised:
        assert FAKE_KEY not in str(err)
        assert FAKE_KEY not in repr(err)
        assert FAKE_KEY not in str(getattr(err, "detail", ""))
        assert FAKE_KEY not in repr(getattr(err, "body", ""))
    assert "[api key]" in str(raised[0])
    assert FAKE_KEY not in repr(client)
    assert caplog.records, "the client logs requests at DEBUG"
    assert FAKE_KEY not in caplog.text
    assert all(FAKE_KEY not in r.getMessage() for r in caplog.records)


def test_storage_requests_never_carry_the_key(api, client, tmp_path):
    client.upload("video", b"vid", "a.mp4")
    client.download(api.add_file("d.mp4", b"d"), tmp_path / "d.part")
    for sent in api.requests:
        if sent.host == "storage.mosaic.test":
            assert "authorization" not in sent.headers
            assert FAKE_KEY.encode() not in sent.body
        else:
            assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert {r.host for r in api.requests} == {"api.mosaic.test", "storage.mosaic.test"}


# ---------------------------------------------------------------- sharing


def test_one_client_serves_many_threads(api, client):
    failures = []

    def work():
        try:
            for _ in range(10):
                client.whoami()
        except Exception as err:  # pragma: no cover - reported below
            failures.append(err)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert failures == [] and len(api.requests) == 80


def test_close_and_context_manager(api):
    c = api.client()
    with c as same:
        assert same is c
    with pytest.raises(RuntimeError, match="closed"):
        c.whoami()


def test_a_long_retry_after_raises_at_once_instead_of_parking_the_caller(api):
    # The job runner reschedules from `retry_after`; a worker thread never sleeps for a minute.
    api.enqueue("POST", "/agent/{id}/run", 429, headers={"Retry-After": "45"})
    with api.client() as c:
        agent_id, node_id = _agent_with_node(c)
        with pytest.raises(errors.RateLimitError) as info:
            c.run_agent(agent_id, update_params={node_id: {"prompt": "x"}})
    assert info.value.retry_after == 45.0
    assert api.sleeps == []
    assert len(api.calls("POST", "/agent/{id}/run")) == 1


def test_retries_stop_when_their_waits_would_pass_the_budget(api):
    api.enqueue("GET", "/whoami", 503, headers={"Retry-After": "4"}, times=3)
    with api.client(max_retries=5, retry_budget=10.0) as c, pytest.raises(errors.ServerError):
        c.whoami()
    assert api.sleeps == [4.0, 4.0]  # a third wait would make 12 s


def test_list_all_runs_asks_the_organization_listing(api, client):
    api.enqueue("GET", "/agent_runs", json={"runs": [], "next_cursor": None})
    client.list_all_runs(since="2026-03-01T08:00:00Z", status=["running", "completed"], agent_id="a1", cursor="c9")
    assert api.requests[0].path == "/agent_runs"
    assert api.requests[0].params == {
        "limit": "100",
        "from": "2026-03-01T08:00:00Z",
        "status": "running,completed",
        "cursor": "c9",
        "agent_id": "a1",
    }


def test_iter_all_runs_follows_cursors_across_agents_and_can_stop_early(api, client):
    first, _ = _agent_with_node(client)
    second, _ = _agent_with_node(client)
    run_ids = [client.run_agent(agent).run_id for agent in (first, second, first, second, first)]
    got = [r.run_id for r in client.iter_all_runs(status="completed", limit=2)]
    assert got == run_ids
    pages = api.calls("GET", "/agent_runs")
    assert [p.params.get("cursor") for p in pages] == [None, "2", "4"]
    # A caller that has what it needs stops reading: no further page is asked for.
    api.requests.clear()
    walk = client.iter_all_runs(limit=2)
    assert next(walk).run_id == run_ids[0]
    walk.close()
    assert len(api.calls("GET", "/agent_runs")) == 1
