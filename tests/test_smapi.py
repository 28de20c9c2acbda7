"""The Stream Manager API client against the rehearsal's stand-in stream
manager over loopback HTTP, plus the transport failures only a real socket
can produce (a silent server, a closed port)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import time
import traceback
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from runbook import smapi
from runbook.rehearsal import cloud, mysqlfake, sandbox
from runbook.smapi import NoApiAnswer, NoApiServed, SMApiError, StreamManagerAPI, _names
from tests.test_fake_service import (
    PREFIX,
    TOKEN,
    Install,
    StartService,
    database,  # noqa: F401  (fixture)
    free_port,
    make_install,
    start_service,  # noqa: F401  (fixture)
    started,
)


def assert_token_hidden(error: BaseException, *tokens: str) -> None:
    """The token must not appear in anything an error can print or carry."""
    shown = [str(error), repr(error), "".join(traceback.format_exception(error))]
    for token in tokens:
        assert all(token not in text for text in shown), shown
    assert error.__cause__ is None and error.__context__ is None


@pytest.fixture
async def live(tmp_path: Path, database: int, start_service: StartService) -> Install:  # noqa: F811
    """The old install: API 3.1 on the seeded live database."""
    cloud.seed_live_database(tmp_path, "127.0.0.1", database, PREFIX)
    install = make_install(tmp_path, db_port=database, api_version="3.1", release="6.2.0.b406")
    await started(start_service, install)
    return install


@pytest.fixture
async def new_db(tmp_path: Path) -> AsyncIterator[int]:
    """A second stand-in MySQL server, like test_fake_service's ``database``:
    the service logs in to it and finds the cluster schema before it starts."""
    path = tmp_path / "new-database.json"
    mysqlfake.provision(path, account=("cluster", "db-secret-771"),
                        schema=sandbox.data_text("cluster.sql.6.2.0.b406"))
    server = mysqlfake.StandInServer("new", path)
    await server.start("127.0.0.1", 0)
    yield server.address[1]
    await server.close()


@pytest.fixture
async def fresh(tmp_path: Path, new_db: int, start_service: StartService) -> Install:  # noqa: F811
    """The new install: API 4.0 on an empty database."""
    # Its own prefix: this test's new stream manager runs beside the old one,
    # so it must not sweep the old cluster (test_fake_service covers the sweep).
    install = make_install(tmp_path, name="red5pro-server-11.1.0.b835-release", db_port=new_db,
                           prefix="rhnew")
    await started(start_service, install)
    return install


async def test_detects_each_install_api_version(live: Install, fresh: Install) -> None:
    async with StreamManagerAPI(live.base_url, TOKEN) as old:
        assert await old.detect_version() == "3.1"
        assert old.version == "3.1"
    async with StreamManagerAPI(fresh.base_url, TOKEN) as new:
        # A call made before any detection finds the version on its own.
        assert await new.cloud_controller() == "Amazon Web Services"
        assert new.version == "4.0"
    async with StreamManagerAPI(fresh.base_url, TOKEN) as new:
        with pytest.raises(SMApiError) as caught:
            await new.detect_version(("3.1", "3.0"))
    assert "tried versions 3.1, 3.0" in str(caught.value)


async def test_the_controller_is_not_asked_again_of_the_request_that_found_the_version(
        fresh: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    """The version is looked for with GET admin/debug/cloudcontroller, the
    controller's own question: a look that has just asked it takes its answer
    for cloud_controller(), where start-service asked the same thing twice at
    each look, in the downtime (issue 12). Once something else was asked
    since, or a while has passed, it asks again; and an action (preflight's
    journalled GET) always sends what it shows."""
    asked: list[str] = []
    real_send = StreamManagerAPI._send

    async def send(self: StreamManagerAPI, method: str, path: str, *args: object,
                   **kwargs: object) -> httpx.Response:
        asked.append(f"{method} {path}")
        return await real_send(self, method, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(StreamManagerAPI, "_send", send)
    controller = "GET /streammanager/api/4.0/admin/debug/cloudcontroller"
    async with StreamManagerAPI(fresh.base_url, TOKEN) as new:
        await new.detect_version(("4.0",))
        assert await new.cloud_controller(as_settled=True) == "Amazon Web Services"
        assert asked == [controller], asked
        assert await new.cloud_controller(as_settled=True) == "Amazon Web Services"
        assert asked == [controller] * 2, asked  # taken once
    for between in ("a request", "an action", "a while"):
        asked.clear()
        async with StreamManagerAPI(fresh.base_url, TOKEN) as new:
            await new.detect_version(("4.0",))
            if between == "a request":
                await new.list_nodegroups()  # the answer is no longer the last one
            elif between == "a while":
                monkeypatch.setattr(smapi, "_SETTLED_FRESH_S", -1.0)  # any age is too old
            settled = between != "an action"
            assert await new.cloud_controller(as_settled=settled) == "Amazon Web Services"
            assert asked.count(controller) == 2, (between, asked)
        monkeypatch.undo()
        monkeypatch.setattr(StreamManagerAPI, "_send", send)


async def test_recreates_the_live_cluster_on_the_new_stream_manager(
    live: Install, fresh: Install
) -> None:
    old = StreamManagerAPI(live.base_url, TOKEN, "3.1")
    new = StreamManagerAPI(fresh.base_url, TOKEN, "4.0")
    async with old, new:
        groups = await old.list_nodegroups()
        assert len(groups) == len(cloud.SEED_GROUPS)
        group = groups[0]
        seed = cloud.SEED_GROUPS[0]
        assert len(await old.list_nodes(group["name"])) == seed.origins + seed.edges
        assert await old.list_launchconfigs() == sorted(s.launch_config for s in cloud.SEED_GROUPS)
        assert await old.list_scalepolicies() == sorted(s.scale_policy for s in cloud.SEED_GROUPS)
        lc = await old.get_launchconfig(group["launchConfig"])
        sp = await old.get_scalepolicy(group["scalePolicy"])
        assert lc == cloud.seed_launch_config(seed)
        assert sp == cloud.seed_scale_policy(seed)

        assert await new.list_nodegroups() == []
        # One given wrapped, one bare: both are accepted and both come back bare
        # (API 4.0 answers a created launch config bare, a policy wrapped).
        assert await new.create_launchconfig({"launchconfig": lc}) == lc
        assert await new.create_scalepolicy(sp) == sp
        assert await new.get_launchconfig(lc["name"]) == lc
        created = await new.create_nodegroup(group["regions"], lc["name"], sp["name"])
        assert created["name"].startswith("group-") and created["regions"] == group["regions"]
        origin = await new.launch_origin(created["name"])
        assert origin["role"] == "origin" and origin["group"] == created["name"]
        nodes = await new.list_nodes(created["name"])
        assert [n["identifier"] for n in nodes if n["role"] == "origin"] == [origin["identifier"]]
        assert sum(n["role"] == "edge" for n in nodes) == seed.edges

        for each in groups:
            deleted = await old.delete_nodegroup(each["name"])
            assert (deleted["name"], deleted["state"]) == (each["name"], "terminating")
        deadline = time.monotonic() + 5
        while await old.list_nodegroups():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)


async def test_launchconfig_answers_without_the_wrapper_are_accepted() -> None:
    # The stand-in answers bare only to a 4.0 create; Red5's own scripts read
    # bare objects everywhere, which only a canned transport can produce here.
    bare = {"name": "lc-1", "targets": {"target": []}}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201 if request.method == "POST" else 200, json=bare)

    api = StreamManagerAPI(
        "http://sm.test", "tok-123456", "4.0", transport=httpx.MockTransport(handler)
    )
    async with api:
        assert await api.get_launchconfig("lc-1") == bare
        assert await api.create_launchconfig(bare) == bare
    assert seen[0].url.path == "/streammanager/api/4.0/admin/configurations/launchconfig/lc-1"
    assert seen[0].url.params["accessToken"] == "tok-123456"
    assert json.loads(seen[1].content) == {"launchconfig": bare}


async def test_refused_token_says_what_to_check(live: Install) -> None:
    async with StreamManagerAPI(live.base_url, "not-the-token") as api:
        with pytest.raises(SMApiError) as caught:
            await api.detect_version()
    error = caught.value
    assert error.status == 401
    assert "rest.administratorToken" in str(error) and "$SM_API_TOKEN" in str(error)
    # The refusal is the container's HTML page (no JSON): none of it is quoted.
    assert "<" not in str(error) and "HTTP 401)" in str(error)
    assert_token_hidden(error, "not-the-token", TOKEN)


async def test_missing_resource_names_the_path(live: Install) -> None:
    async with StreamManagerAPI(live.base_url, TOKEN, "3.1") as api:
        with pytest.raises(SMApiError) as caught:
            await api.get_launchconfig("no-such-lc")
    error = caught.value
    assert error.status == 404
    assert "/streammanager/api/3.1/admin/configurations/launchconfig/no-such-lc" in str(error)
    assert "does not exist" in str(error)
    assert_token_hidden(error, TOKEN)


async def test_rejected_request_carries_the_server_reason(fresh: Install) -> None:
    async with StreamManagerAPI(fresh.base_url, TOKEN, "4.0") as api:
        with pytest.raises(SMApiError) as caught:
            await api.create_nodegroup(["us-east-1"], "never-created", "nor-this")
    error = caught.value
    assert error.status == 400
    assert "HTTP 400" in str(error) and "'never-created' does not exist" in str(error)
    assert_token_hidden(error, TOKEN)


async def test_a_webapp_that_did_not_load_is_no_api_served(
    tmp_path: Path,
    start_service: StartService,  # noqa: F811
) -> None:
    """Facts audit 56a (M3): a server whose webapp failed to load (its
    database unreachable) serves no API, as one still loading: an answer (not
    NoApiAnswer), at no version, and no cause, which is in red5.log only."""
    install = make_install(tmp_path, db_port=free_port())  # nothing listens there
    await start_service(install).settled()
    async with StreamManagerAPI(install.base_url, TOKEN) as api:
        with pytest.raises(NoApiServed) as caught:
            await api.detect_version()
    error = caught.value
    assert error.status == 404 and not isinstance(error, NoApiAnswer), "an answer came"
    assert "database" not in str(error), str(error)
    assert "cannot reach the database" in install.log
    assert_token_hidden(error, TOKEN)


@contextlib.asynccontextmanager
async def answering_every_request(status: int, reason: str) -> AsyncIterator[str]:
    """A bare HTTP server answering `status` with a short plain-text body to
    every request (a status no fake here answers to a version look): its base URL."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                await reader.readuntil(b"\r\n\r\n")  # a GET: no body follows
                body = reason.encode()
                writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def test_unavailable_stream_manager_is_a_503() -> None:
    async with answering_every_request(503, "Service Unavailable") as base, \
            StreamManagerAPI(base, TOKEN) as api:
        with pytest.raises(SMApiError) as caught:
            await api.detect_version()
    error = caught.value
    assert error.status == 503 and not isinstance(error, NoApiAnswer), "an answer came"
    assert "is unavailable (HTTP 503)" in str(error), str(error)
    assert_token_hidden(error, TOKEN)


async def test_a_server_failing_at_every_version_is_quoted_at_the_one_it_speaks() -> None:
    """Operator trial (stop 51): a server answering 503 at every API path,
    looked for from the newest down, was quoted at GET
    /streammanager/api/4.0/..., which 6.2.0 does not serve (FACTS §2.1). The
    API a step expects is looked for first."""
    import dataclasses

    from runbook import config
    from runbook.session import ApiClients

    example = config.load(Path(__file__).parents[1] / "sample-configs/production.example.toml")
    async with answering_every_request(503, "Service Unavailable") as base:
        settings = dataclasses.replace(example, api_base_url=base, api_version=None,
                                       new_api_version=None)
        for expecting, quoted in ((None, "/api/4.0/"), ("3.1", "/api/3.1/")):
            factory = ApiClients(settings, TOKEN)
            with pytest.raises(SMApiError) as caught:
                await factory(fresh=True, expecting=expecting)
            await factory.aclose()
            assert caught.value.status == 503 and quoted in str(caught.value), str(caught.value)


async def test_silent_server_times_out() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(30)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with StreamManagerAPI(f"http://127.0.0.1:{port}", TOKEN, "4.0", timeout=0.3) as api:
            began = time.monotonic()
            with pytest.raises(SMApiError) as caught:
                await api.list_nodegroups()
            elapsed = time.monotonic() - began
    finally:
        server.close()
    error = caught.value
    assert error.status is None and elapsed < 2 and isinstance(error, NoApiAnswer)
    assert "no answer within 0.3 s" in str(error) and "GET /streammanager/api/4.0" in str(error)
    assert_token_hidden(error, TOKEN)


async def test_closed_port_is_a_connection_error() -> None:
    base = f"http://127.0.0.1:{free_port()}"
    async with StreamManagerAPI(base, TOKEN) as api:
        with pytest.raises(SMApiError) as caught:
            await api.detect_version()
    error = caught.value
    assert str(error).startswith(f"Could not connect to the stream manager at {base}")
    assert "connection refused" in str(error) and isinstance(error, NoApiAnswer)
    assert_token_hidden(error, TOKEN)


async def test_a_connection_closed_before_any_answer_is_no_answer() -> None:
    """A stream manager killed mid-request: the connection closes with no
    answer, as a stopped one gives none (preflight, resumed mid-cutover,
    takes only that for the expected silence; code review)."""
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with StreamManagerAPI(f"http://127.0.0.1:{port}", TOKEN, "4.0") as api:
            with pytest.raises(SMApiError) as caught:
                await api.cloud_controller()
    finally:
        server.close()
    error = caught.value
    assert isinstance(error, NoApiAnswer) and error.status is None, repr(error)
    assert_token_hidden(error, TOKEN)


def test_curl_line_is_copyable_and_keeps_the_token_out() -> None:
    api = StreamManagerAPI("http://10.0.0.5:5080/", TOKEN, "4.0")
    body = {"regions": ["us-east-1"], "launchConfig": "lc's", "scalePolicy": "sp"}
    line = api.curl("POST", "admin/nodegroup", body)
    assert TOKEN not in line
    assert line.startswith("curl -sS -X POST 'http://10.0.0.5:5080/streammanager/api/4.0/")
    # The shell the operator pastes into expands the hint and keeps the body whole.
    words = subprocess.run(
        ["bash", "-c", f"printf '%s\\n' {line}"],
        env={"SM_API_TOKEN": "from-env"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert words[:5] == [
        "curl", "-sS", "-X", "POST",
        "http://10.0.0.5:5080/streammanager/api/4.0/admin/nodegroup?accessToken=from-env",
    ]  # fmt: skip
    assert words[5:7] == ["-H", "Content-Type: application/json"]
    assert words[7] == "-d" and json.loads(words[8]) == body

    plan_only = StreamManagerAPI("http://sm:5080", TOKEN, token_hint="<token>")
    get = plan_only.curl("GET", "admin/nodegroup")
    assert get == (
        "curl -sS -X GET "
        "'http://sm:5080/streammanager/api/<api-version>/admin/nodegroup?accessToken=''<token>'"
    )
    assert repr(plan_only) == "StreamManagerAPI('http://sm:5080', version=None)"


async def test_httpx_request_log_has_the_token_masked(
    fresh: Install, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    async with StreamManagerAPI(fresh.base_url, TOKEN, "4.0") as api:
        await api.list_nodegroups()
    assert "accessToken=" in caplog.text
    assert TOKEN not in caplog.text


def test_listed_names_accept_objects_and_names() -> None:
    assert _names(["a", {"name": "b", "type": "x"}], "scale policies") == ["a", "b"]
    with pytest.raises(SMApiError, match="unexpected shape"):
        _names({"policies": []}, "scale policies")


async def test_clients_share_one_tls_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """start-service and recreate make a fresh client for each look in the
    downtime; loading the CA bundle for each cost 50 ms of downtime here."""
    import ssl

    built: list[object] = []
    make = ssl.create_default_context

    def counted(*args: object, **kwargs: object) -> ssl.SSLContext:
        built.append(args)
        return make(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    for _ in range(3):
        async with StreamManagerAPI("http://127.0.0.1:9", TOKEN, "4.0"):
            pass
    assert len(built) <= 1


@pytest.mark.parametrize("status", [502, 504])
async def test_a_gateway_error_to_a_change_leaves_its_outcome_unknown(status: int) -> None:
    """Review 58a, L5: a proxy in front of the stream manager (FACTS: it may
    sit behind a load balancer) answers 502 or 504 when the stream manager
    was slow, after it may have carried the change out: a DELETE so answered
    was a definite failure ("could not delete"). A read is asked again."""
    from runbook.smapi import SMApiOutcomeUnknown

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="Bad Gateway")

    api = StreamManagerAPI(
        "http://sm.test", "tok-123456", "4.0", transport=httpx.MockTransport(handler)
    )
    async with api:
        with pytest.raises(SMApiOutcomeUnknown):
            await api.delete_nodegroup("group-1")
        with pytest.raises(SMApiError) as read:
            await api.list_nodegroups()
    assert not isinstance(read.value, SMApiOutcomeUnknown)


@pytest.mark.parametrize(("method", "answer"), [
    ("POST", httpx.Response(200, headers={"content-type": "text/html"}, text="<html>ok</html>")),
    ("POST", httpx.Response(201)),
    ("POST", httpx.Response(200, json=["group-1"])),
    ("DELETE", httpx.Response(204)),
    ("DELETE", httpx.Response(200, json="deleted")),
])
async def test_a_change_answered_2xx_unreadably_leaves_its_outcome_unknown(
        method: str, answer: httpx.Response) -> None:
    """Review 61, F1: a POST or DELETE the stream manager carried out (2xx),
    whose answer is not the JSON object expected (a proxy's page, an empty
    body), was a plain SMApiError: recreate took the POST as refused and the
    way back then kept the nodegroup it made. It may have taken effect; a
    read answered so is a plain failure, asked again at will."""
    from runbook.smapi import SMApiOutcomeUnknown

    def handler(request: httpx.Request) -> httpx.Response:
        return answer if request.method == method else httpx.Response(200, text="<html/>")

    api = StreamManagerAPI(
        "http://sm.test", "tok-123456", "4.0", transport=httpx.MockTransport(handler)
    )
    async with api:
        with pytest.raises(SMApiOutcomeUnknown) as change:
            if method == "POST":
                await api.create_nodegroup(["us-east-1"], "lc", "sp")
            else:
                await api.delete_nodegroup("group-1")
        with pytest.raises(SMApiError) as read:
            await api.list_nodegroups()
    said = str(change.value)
    assert f"accepted {method} /streammanager/api/4.0/admin/nodegroup" in said, said
    assert "may or may not have taken effect" in said, said
    assert "\n" not in said and "tok-123456" not in said
    assert change.value.status is None  # as a lost answer: looked for, not taken as refused
    assert not isinstance(read.value, SMApiOutcomeUnknown)


async def test_a_redirect_is_no_api_served_and_names_where_it_points() -> None:
    """Review 61, F2: a proxy's (or the new release's) http->https redirect,
    a 301 with a small page, was taken for the API served: detect_version
    settled on the first version it asked, and the page was taken for the
    cloud controller, so start-service was proven on it. A 3xx is no answer:
    one line naming where it points and what to set."""
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            301, headers={"location": f"https://sm.test{request.url.raw_path.decode()}",
                          "content-type": "text/html"},
            text="<html><body>301 Moved Permanently</body></html>")

    api = StreamManagerAPI("http://sm.test:5080", "tok-123456",
                           transport=httpx.MockTransport(handler))
    async with api:
        with pytest.raises(SMApiError) as detected:
            await api.detect_version()
        api.version = "4.0"
        with pytest.raises(SMApiError) as asked:
            await api.cloud_controller()
    for caught in (detected, asked):
        said = str(caught.value)
        assert "https://sm.test" in said and "[api] base_url" in said, said
        assert "\n" not in said and "HTTP 301" in said, said
        assert_token_hidden(caught.value, "tok-123456")
