"""Client for the Stream Manager 1.x admin REST API (versions 3.0, 3.1 and 4.0).

The runbook talks to two stream managers in one window (the old install and
the new one, often on different API versions), so the version is a property of
the client and can be detected by probing. Every failure becomes one
:class:`SMApiError` sentence an on-call engineer can act on, and the admin
token never leaves this module in a message, a repr or an exception chain:
it travels only as the ``accessToken`` query parameter of real requests.
"""

from __future__ import annotations

import functools
import logging
import re
import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from runbook.curl import ApiTarget, api_path, curl_line
from runbook.model import ApiCall
from runbook.redact import MASK, Redactor

if TYPE_CHECKING:
    import ssl

    import httpx

DEFAULT_VERSIONS = ("4.0", "3.1", "3.0")
# Where a role's default scale-out alarm is read (3.x) and set (FACTS §2.2).
SCALEOUT_ALARM = "admin/alarm/scaleout/default"
# The roles it takes (AlarmController's NodeRole check; FACTS §2.2).
SCALEOUT_ROLES = ("edge", "origin", "relay", "transcoder")


def reads_alarms(api_version: str | None) -> bool:
    """Whether the scale-out alarm thresholds are read from a live API of this
    version: 3.x, whose AlarmController maps the GET (5.1.1, 6.2.0; facts
    audit 61, F13); the 4.0 docs show only the POST (FACTS section 2.2). One
    rule for export-config and the fleet's look again (review 62b, L3)."""
    return str(api_version).startswith("3.")

T = TypeVar("T")

# How old the answer that settled a client's version may be and still stand
# for the controller's (cloud_controller): the same request, a moment ago.
_SETTLED_FRESH_S = 1.0

_ACCESS_TOKEN_IN_URL = re.compile(r"(accessToken=)[^&\s\"']+")


class _MaskAccessToken(logging.Filter):
    """httpx logs every request URL at INFO, query string included; anyone who
    turns on INFO logging would otherwise write the admin token to disk."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "accessToken=" in message:
            record.msg = _ACCESS_TOKEN_IN_URL.sub(rf"\g<1>{MASK}", message)
            record.args = ()
        return True


logging.getLogger("httpx").addFilter(_MaskAccessToken())


class SMApiError(Exception):
    """A Stream Manager API call failed; ``str()`` is one operator-facing sentence."""

    def __init__(self, message: str, status: int | None = None, *, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        # The API's own words (its errorMessage, or its answer's text), apart
        # from the sentence runbook wraps them in; "" when it gave none.
        self.detail = detail

    def __str__(self) -> str:
        return str(self.args[0])


class NoApiAnswer(SMApiError):
    """No HTTP answer came back to a read: the connection was refused, timed
    out or broke. What a stream manager that is down gives, unlike an answer
    with an error status, which one that is up gives."""


class NoConnection(NoApiAnswer):
    """Not even a connection could be made (refused, or not within the
    timeout): nothing listens there, or not yet. Unlike an exchange broken
    mid-way, no sign that a stream manager is up there at all."""


class Redirected(SMApiError):
    """The stream manager answered with a redirect (3xx): [api] base_url
    names another place than the API's (http where it serves https, say)."""

    def __init__(self, message: str, status: int, *, where: str) -> None:
        super().__init__(message, status)
        self.where = where  # where it points, its query left out; "" when it named none


class SMApiOutcomeUnknown(SMApiError):
    """A call that changes something was sent, and no answer came back: it may
    or may not have taken effect. Check before sending it again."""


class NoApiServed(SMApiError):
    """Every API version looked for answered 404: no streammanager webapp
    serves there, or none does yet (a server booting)."""

    def __init__(self, where: str, versions: tuple[str, ...]) -> None:
        super().__init__(f"No Stream Manager API answered at {where} (tried versions "
                         f"{', '.join(versions)}); is the streammanager webapp deployed there?",
                         404)
        self.where = where
        self.versions = versions


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _reason(exc: BaseException) -> str:
    """Why a connection failed, found in httpx's chain of wrapped errors."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused (nothing is listening on that port)"
        if isinstance(current, socket.gaierror):
            return "the host name could not be resolved"
        stack.extend([current.__cause__, current.__context__])
        stack.extend(getattr(current, "exceptions", ()))
    return str(exc) or type(exc).__name__


def _names(data: Any, what: str) -> list[str]:
    """Names from a list answer; some builds list objects rather than names."""
    if not isinstance(data, list):
        raise SMApiError(f"The stream manager listed {what} in an unexpected shape.")
    names = []
    for item in data:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            names.append(item["name"])
        else:
            raise SMApiError(f"The stream manager listed {what} in an unexpected shape.")
    return names


def _unwrap(data: Any, key: str, what: str) -> dict[str, Any]:
    """The inner object of a launch config or scale policy answer: the docs wrap
    it in ``{key: {...}}``, Red5's own scripts read it bare, so accept both."""
    if isinstance(data, dict) and isinstance(data.get(key), dict):
        return _object(data[key], what)
    if isinstance(data, dict) and "name" in data:
        return _object(data, what)
    raise SMApiError(f"The stream manager answered with a {what} in an unexpected shape.")


def _object(data: Any, what: str) -> dict[str, Any]:
    """A JSON object from the stream manager, checked before anything relies on it."""
    if not isinstance(data, dict):
        raise SMApiError(f"The stream manager answered with a {what} in an unexpected shape.")
    return {str(key): value for key, value in data.items()}


def _objects(data: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise SMApiError(f"The stream manager listed {what} in an unexpected shape.")
    return [_object(item, what) for item in data]


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS setup, made once: it loads the CA bundle (50 ms
    here), and the downtime makes a fresh client for each look after start."""
    import httpx

    return httpx.create_ssl_context()


def token_equals(token: str, value: str) -> bool:
    """Two tokens compared in constant time (hmac.compare_digest), as bytes."""
    import hmac

    return hmac.compare_digest(token.encode(), value.encode())


class StreamManagerAPI:
    """One stream manager's admin API at ``base_url`` (scheme, host and port)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        version: str | None = None,
        *,
        timeout: float = 10.0,
        token_hint: str = "$SM_API_TOKEN",
        transport: httpx.AsyncBaseTransport | None = None,
        rehearsal: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.timeout = timeout
        self.token_hint = token_hint
        # `runbook rehearse` gives its host's own token: there is none for the
        # operator to give again (trial 57, F19).
        self.rehearsal = rehearsal
        self._token = token
        self._redact = Redactor([token])
        # The answer of the request that settled the version (detect_version),
        # and when it came: see cloud_controller.
        self._settled_by: tuple[float, str] | None = None
        # Here, not at the top: the procedure imports this module for its
        # errors, and httpx need not load before the first request.
        import httpx

        self._client = httpx.AsyncClient(
            base_url=self.base_url, timeout=httpx.Timeout(timeout), transport=transport,
            verify=_tls(),
        )

    def __repr__(self) -> str:
        return f"StreamManagerAPI({self._shown_base!r}, version={self.version!r})"

    @property
    def _shown_base(self) -> str:
        return self._redact(_without_query(self.base_url))

    async def __aenter__(self) -> StreamManagerAPI:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- plumbing -------------------------------------------------------------

    def _api_path(self, rel: str, version: str | None = None) -> str:
        return api_path(rel, version or self.version)

    async def _send(self, method: str, path: str, body: Any = None,
                    query: dict[str, str] | None = None) -> httpx.Response:
        # Errors are built inside the except clauses but raised after them, so
        # the new exception has no __context__: httpx's exceptions carry the
        # request, whose URL carries the token.
        import httpx  # loaded by __init__ already: a dictionary lookup

        failure: SMApiError
        where = f"{method} {path}"
        self._settled_by = None  # asked something since: no longer the last answer
        try:
            response = await self._client.request(
                method, path, params={**(query or {}), "accessToken": self._token}, json=body
            )
            if not 300 <= response.status_code < 400:
                return response
            failure = self._redirected(response, where)
        except httpx.ConnectTimeout:
            failure = NoConnection(
                f"Could not connect to the stream manager at {self._shown_base} within "
                f"{self.timeout:g} s ({where})."
            )
        except httpx.TimeoutException:
            failure = self._lost(method, f"The stream manager at {self._shown_base} gave no "
                                 f"answer within {self.timeout:g} s to {where}")
        except httpx.ConnectError as exc:
            failure = NoConnection(
                f"Could not connect to the stream manager at {self._shown_base}: "
                f"{self._redact(_reason(exc))}."
            )
        except httpx.HTTPError as exc:
            # A transport error (a reset, a connection closed mid-answer) left
            # no answer; another (an answer that cannot be decoded) came with one.
            failure = self._lost(method, f"The exchange with the stream manager at "
                                 f"{self._shown_base} failed during {where}: "
                                 f"{self._redact(_reason(exc))}",
                                 answered=not isinstance(exc, httpx.TransportError))
        raise failure

    def _redirected(self, response: httpx.Response, where: str) -> Redirected:
        """A 3xx is no answer of the API's (review 61, F2: a proxy's http ->
        https redirect was taken for the API served, its page for the cloud
        controller). Not followed: the token would go on to wherever it
        points; the operator sets [api] base_url to the place instead."""
        location = response.headers.get("location", "")
        if not location:
            return Redirected(f"The stream manager at {self._shown_base} answers {where} with a "
                              f"redirect (HTTP {response.status_code}) that names no place; set "
                              "[api] base_url to where its API answers.",
                              response.status_code, where="")
        target = response.request.url.join(location)
        shown = self._redact(_without_query(str(target)))
        base = self._redact(urlunsplit((target.scheme, target.netloc.decode(), "", "", "")))
        return Redirected(f"The stream manager at {self._shown_base} redirects {where} to "
                          f"{shown} (HTTP {response.status_code}), which runbook does not follow: "
                          f"set [api] base_url to where its API answers ({base}, it seems).",
                          response.status_code, where=shown)

    @staticmethod
    def _lost(method: str, message: str, *, answered: bool = False) -> SMApiError:
        """A read can simply be asked again; a change that got no answer is in doubt."""
        if method.upper() == "GET":
            return SMApiError(f"{message}.") if answered else NoApiAnswer(f"{message}.")
        return SMApiOutcomeUnknown(f"{message}; it may or may not have taken effect.")

    def _error_message(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("errorMessage"):
            text = str(data["errorMessage"])
        elif "html" in response.headers.get("content-type", "").lower():
            # The servlet container's own error page (a refused token, a path
            # no servlet serves): markup that says no more than the status.
            text = ""
        else:
            text = response.text.strip()[:200]
        return self._redact(text)

    @staticmethod
    def _api_error(response: httpx.Response) -> bool:
        """Whether the answer is the API's JSON error (errorMessage), not the
        servlet container's page."""
        try:
            data = response.json()
        except ValueError:
            return False
        return isinstance(data, dict) and bool(data.get("errorMessage"))

    def _check(self, response: httpx.Response, method: str, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = self._error_message(response)
        said = f": {detail}" if detail else ""
        if status == 401:
            # The rehearsal gives its host's own token: none to give again.
            then = ("The rehearsal gives its host's own token, so there is none to change "
                    "here.") if self.rehearsal else (
                f"runbook took it once, at its start (from {self.token_hint}, or from its "
                "prompt when that was not set): if it is wrong, quit and start runbook again "
                "with the right one, since exporting it now changes nothing for this run.")
            message = (
                f"The stream manager at {self._shown_base} refused the API token "
                f"(HTTP 401{said}). The token must be that install's rest.administratorToken "
                f"(its red5-web.properties). {then}"
            )
        elif status == 404 and method.upper() != "GET" and self._api_error(response):
            # 5.1.1 and 6.2.0 answer every controller error 404 (FACTS-scenarios
            # §0): with the API's own errorMessage, a change it will not
            # make, not a path it lacks (facts audit 61, F3).
            message = f"The stream manager refused {method} {path} (HTTP 404){said}"
        elif status == 404:
            message = f"Not found (HTTP 404): {method} {path}{said}"
        elif status < 500:
            message = f"The stream manager rejected {method} {path} (HTTP {status}){said}"
        elif status == 503:
            message = (
                f"The stream manager at {self._shown_base} is unavailable (HTTP 503) for "
                f"{method} {path}{said}"
            )
        else:
            message = (
                f"The stream manager answered {method} {path} with an error (HTTP {status}){said}"
            )
        if status in (502, 504) and method.upper() != "GET":
            # A proxy's word (one in front of the stream manager): the change
            # may have been carried out behind it (review 58a, L5).
            raise SMApiOutcomeUnknown(f"{message}; a proxy answered, so it may or may not "
                                      "have taken effect.", status)
        raise SMApiError(message, status, detail=detail)

    async def _ensure_version(self) -> str:
        if self.version is None:
            await self.detect_version()
        assert self.version is not None
        return self.version

    async def _call(self, method: str, rel: str, body: Any = None, *, text: bool = False,
                    query: dict[str, str] | None = None) -> Any:
        await self._ensure_version()
        path = self._api_path(rel)
        response = await self._send(method, path, body, query)
        self._check(response, method, path)
        if text:
            return response.text.strip()
        try:
            return response.json()
        except ValueError:
            pass  # raised below, outside the handler, so no chained context
        if method.upper() != "GET":
            raise self._unreadable(method, path, f" (HTTP {response.status_code})")
        raise SMApiError(
            f"The stream manager answered {method} {path} with something that is not JSON.",
            response.status_code,
        )

    async def _change(self, method: str, rel: str, read: Callable[[Any], T],
                      body: Any = None) -> T:
        """A call that changes something, its JSON answer checked by `read`."""
        data = await self._call(method, rel, body)
        try:
            return read(data)
        except SMApiError:
            pass  # raised below, outside the handler, so no chained context
        raise self._unreadable(method, self._api_path(rel), "")

    @staticmethod
    def _unreadable(method: str, path: str, status: str) -> SMApiOutcomeUnknown:
        """A change the stream manager accepted (2xx) with an answer runbook
        cannot read (a proxy's page, an empty body, another shape) may have
        been carried out: it is not a refusal (review 61, F1: recreate took
        such a POST for one, and the way back kept the nodegroup it made). No
        status, as for a lost answer: the callers look before sending again."""
        return SMApiOutcomeUnknown(
            f"The stream manager accepted {method} {path}{status}, but its answer is not what "
            "runbook can read; it may or may not have taken effect.")

    # --- the API --------------------------------------------------------------

    async def detect_version(self, candidates: tuple[str, ...] = DEFAULT_VERSIONS) -> str:
        """Find which API version this stream manager serves.

        Only the matching version has a servlet, so the others answer 404; the
        first answer that is not 404 settles it (a 401 still proves the
        version, but the token is wrong, which the operator must hear about)."""
        for version in candidates:
            path = self._api_path("admin/debug/cloudcontroller", version)
            response = await self._send("GET", path)
            if response.status_code == 404:
                continue
            self._check(response, "GET", path)
            self.version = version
            self._settled_by = (time.monotonic(), response.text.strip())
            return version
        raise NoApiServed(self._shown_base, candidates)

    async def cloud_controller(self, *, as_settled: bool = False) -> str:
        """The cloud controller the stream manager runs, as it names it.

        `as_settled`: for a look, not an action the journal shows as sent.
        The version is looked for by this very request (detect_version):
        where that was this client's last, a moment ago, its answer is taken,
        not asked again. start-service asks a fresh client both at every look
        of its wait, in the downtime (issue 12)."""
        await self._ensure_version()
        settled, self._settled_by = self._settled_by, None
        if as_settled and settled is not None and \
                time.monotonic() - settled[0] <= _SETTLED_FRESH_S:
            return settled[1]
        return str(await self._call("GET", "admin/debug/cloudcontroller", text=True))

    async def list_nodegroups(self) -> list[dict[str, Any]]:
        return _objects(await self._call("GET", "admin/nodegroup"), "nodegroups")

    async def create_nodegroup(
        self, regions: list[str], launch_config: str, scale_policy: str
    ) -> dict[str, Any]:
        body = {
            "regions": list(regions),
            "launchConfig": launch_config,
            "scalePolicy": scale_policy,
        }
        return await self._change("POST", "admin/nodegroup",
                                  functools.partial(_object, what="nodegroup"), body)

    async def delete_nodegroup(self, name: str) -> dict[str, Any]:
        return await self._change("DELETE", f"admin/nodegroup/{quote(name, safe='')}",
                                  functools.partial(_object, what="nodegroup"))

    async def launch_origin(self, group: str) -> dict[str, Any]:
        return await self._change("POST", f"admin/nodegroup/{quote(group, safe='')}/node/origin",
                                  functools.partial(_object, what="node"))

    async def list_nodes(self, group: str) -> list[dict[str, Any]]:
        return _objects(await self._call(
            "GET", f"admin/nodegroup/{quote(group, safe='')}/node"), "nodes")

    async def scaleout_threshold(self, role: str) -> float | None:
        """The default scale-out alarm threshold (a percentage) of a node role
        (edge, origin, relay, transcoder), where the API reads it: 5.1.1's and
        6.2.0's AlarmController map GET admin/alarm/scaleout/default?type=ROLE
        (javap of AM and AS; facts audit 61, F13); the 4.0 docs show only the
        POST. None where it is not served (404, 405) or answers no number."""
        try:
            data = await self._call("GET", SCALEOUT_ALARM, query={"type": role})
        except SMApiError as exc:
            if exc.status in (404, 405):
                return None
            raise
        threshold = data.get("threshold") if isinstance(data, dict) else None
        return float(threshold) if isinstance(threshold, (int, float)) else None

    async def list_launchconfigs(self) -> list[str]:
        return _names(
            await self._call("GET", "admin/configurations/launchconfig"), "launch configurations"
        )

    async def get_launchconfig(self, name: str) -> dict[str, Any]:
        data = await self._call("GET", f"admin/configurations/launchconfig/{quote(name, safe='')}")
        return _unwrap(data, "launchconfig", "launch configuration")

    async def create_launchconfig(self, config: dict[str, Any]) -> dict[str, Any]:
        inner = _unwrap(config, "launchconfig", "launch configuration")
        return await self._change(
            "POST", "admin/configurations/launchconfig",
            functools.partial(_unwrap, key="launchconfig", what="launch configuration"),
            {"launchconfig": inner})

    async def list_scalepolicies(self) -> list[str]:
        return _names(await self._call("GET", "admin/configurations/scalepolicy"), "scale policies")

    async def get_scalepolicy(self, name: str) -> dict[str, Any]:
        data = await self._call("GET", f"admin/configurations/scalepolicy/{quote(name, safe='')}")
        return _unwrap(data, "policy", "scale policy")

    async def create_scalepolicy(self, policy: dict[str, Any]) -> dict[str, Any]:
        inner = _unwrap(policy, "policy", "scale policy")
        return await self._change("POST", "admin/configurations/scalepolicy",
                                  functools.partial(_unwrap, key="policy", what="scale policy"),
                                  {"policy": inner})

    # --- for plans --------------------------------------------------------------

    def curl(self, method: str, path: str, body: dict[str, Any] | None = None) -> str:
        """The curl line of this call at this client's version (runbook.curl)."""
        target = ApiTarget(self.base_url, self.version, self.token_hint)
        return self._redact(curl_line(target, method, path, body))

    def api_call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                 why: str = "") -> ApiCall:
        """The call as the journal and the screen show it, its curl line at this
        client's version: method and path written once."""
        return ApiCall(method, path, self.curl(method, path, body), why)
