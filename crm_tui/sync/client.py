"""The HTTP side of a sync, over httpx: hello, push and pull, with every server
error turned into a `ProtocolError` carrying the server's code and reason. Every
request asks for answers in the rep's language (Accept-Language): the server says
its reasons, refused changes' included, in it."""

from __future__ import annotations

import socket
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from crm_tui.i18n import language, normalize_language, t
from crm_tui.sync.errors import NOT_A_SYNC_SERVER, UNREACHABLE, ProtocolError
from crm_tui.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, REFUSED, Hello, PushResult

__all__ = ["UNREACHABLE", "ProtocolError", "SyncClient"]

M = TypeVar("M", bound=BaseModel)

# Some changes of a push refused: the rest of the batch is stored (docs/sync.md).
REFUSED_ANSWER = frozenset({(403, REFUSED)})


class SyncClient:
    def __init__(self, server: str, token: str, *, http: httpx.Client | None = None,
                 timeout: float = 60.0):
        self.server = server.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", PROTOCOL_HEADER: str(PROTOCOL_VERSION),
                        "Accept-Language": language()}
        self._owns_http = http is None  # a borrowed client (a test transport) stays open
        self.timeout = timeout
        if http is None:
            http = httpx.Client(base_url=self.server, timeout=timeout)
        self.http = http

    @property
    def owns_http(self) -> bool:
        """Its own HTTP client (not a borrowed test transport): one a forked process
        can make anew (fresh)."""
        return self._owns_http

    def fresh(self) -> SyncClient:
        """A client of the same server, token and language with its own connections,
        for another process (pull_worker): a connection is never shared across a fork."""
        other = SyncClient(self.server, "", timeout=self.timeout)
        other.headers = dict(self.headers)
        return other

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
              answers: frozenset[tuple[int, str]] = frozenset()) -> Any:
        """The JSON answer; an error raises ProtocolError, except the (status, code)
        pairs in `answers`, which are answers like any other."""
        try:
            response = self.http.request(method, self.server + path, json=body, headers=self.headers)
        except httpx.HTTPError as exc:
            why = _why_unreachable(exc)
            # Said in the rep's language when the reason is known; else the system's
            # words, which a rep working in another language reads as the catalog's
            # general sentence (crm_tui.api.sync.server_message).
            raise ProtocolError(UNREACHABLE, t("sync_client.unreachable", server=self.server, reason=why or exc), 0,
                                lang=language() if why else None) from exc
        if response.status_code >= 400:
            try:
                err = response.json()
                if (response.status_code, err.get("error")) in answers:
                    return err
                raise ProtocolError(err["error"], err["message"], response.status_code, err.get("expected_seq"),
                                    normalize_language(response.headers.get("content-language")))
            except (ValueError, KeyError, TypeError, AttributeError):
                raise self._not_sync(response.status_code) from None
        try:
            return response.json()
        except ValueError:  # a Wi-Fi sign-in page, or another web server at that address
            raise self._not_sync(response.status_code) from None

    def _not_sync(self, status: int) -> ProtocolError:
        """An answer that is not the sync protocol's (it printed the page, or a traceback)."""
        said = t("sync_client.answer.not_sync", server=self.server, status=status)
        return ProtocolError(NOT_A_SYNC_SERVER, said, status, lang=language())

    def _model(self, model: type[M], answer: Any) -> M:
        try:
            return model.model_validate(answer)
        except ValidationError:
            raise self._not_sync(200) from None

    def hello(self) -> Hello:
        return self._model(Hello, self._call("GET", "/v1/hello"))

    def push(self, node: str, changes: list[dict[str, Any]]) -> PushResult:
        """Push a batch. Some changes refused (403 "refused": the others are stored) is
        an answer, with the refused ones in `refused`."""
        return self._model(PushResult, self._call("POST", "/v1/push", {"node": node, "changes": changes},
                                                  answers=REFUSED_ANSWER))

    def pull(self, node: str, after: int, limit: int, *, snapshot: bool = False) -> dict[str, Any]:
        """A page of changes as plain dicts (a large pull is not validated twice);
        `snapshot`: see PullRequest."""
        body: dict[str, Any] = {"node": node, "after": after, "limit": limit}
        if snapshot:
            body["snapshot"] = True
        page = self._call("POST", "/v1/pull", body)
        if not isinstance(page, dict) or not isinstance(page.get("changes"), list):
            raise self._not_sync(200)
        return page


def _why_unreachable(exc: httpx.HTTPError) -> str | None:
    """Why the server could not be reached, in the language spoken, when it is one of
    the usual reasons: nothing listening, no such host, no answer in time."""
    if isinstance(exc, httpx.TimeoutException):
        return t("sync_client.timeout")
    cause: BaseException | None = exc
    for _ in range(8):  # httpx's error wraps httpcore's, which wraps the socket's
        if cause is None:
            break
        if isinstance(cause, ConnectionRefusedError):
            return t("sync_client.refused")
        if isinstance(cause, socket.gaierror):
            return t("sync_client.no_host")
        cause = cause.__cause__ or cause.__context__
    return None
