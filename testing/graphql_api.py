"""A real GraphQL endpoint for tests: graphql-core (the reference implementation's Python port)
executes every query against a small Relay-style schema, served over HTTP on 127.0.0.1.

    type Query {
      repositories(first: Int!, after: String): RepositoryConnection!   # Relay paging
      viewer: User!
      broken: String                                 # always a GraphQL error
    }

`GraphQLApi(n, token=...)`: `n` repositories; with `token`, requests need
`Authorization: Bearer <token>` (else 401). `faults[k]` = "429" | "503" | "drop" answers the
k-th request (1-based) that way once. `requests` keeps every request's JSON and headers.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    graphql_sync,
)

from testing.wsgi_server import DropConnection, WSGIServer

__all__ = ["GraphQLApi", "repository"]


def repository(i: int) -> dict[str, Any]:
    return {
        "id": f"R_{i}",
        "name": f"repo-{i}",
        "stargazerCount": i * 10,
        "score": i / 4,
        "isPrivate": i % 5 == 0,
        "owner": {"login": f"user{i % 3}"},
        "topics": [f"t{i % 2}"],
    }


def _cursor(i: int) -> str:
    return base64.b64encode(f"cursor:{i}".encode()).decode()


def _schema(repos: list[dict[str, Any]]) -> GraphQLSchema:
    owner = GraphQLObjectType("Owner", {"login": GraphQLField(GraphQLNonNull(GraphQLString))})
    repo = GraphQLObjectType(
        "Repository",
        {
            "id": GraphQLField(GraphQLNonNull(GraphQLString)),
            "name": GraphQLField(GraphQLNonNull(GraphQLString)),
            "stargazerCount": GraphQLField(GraphQLNonNull(GraphQLInt)),
            "score": GraphQLField(GraphQLFloat),
            "isPrivate": GraphQLField(GraphQLBoolean),
            "owner": GraphQLField(owner),
            "topics": GraphQLField(GraphQLList(GraphQLString)),
        },
    )
    edge = GraphQLObjectType(
        "RepositoryEdge",
        {"cursor": GraphQLField(GraphQLString), "node": GraphQLField(repo)},
    )
    page_info = GraphQLObjectType(
        "PageInfo",
        {
            "hasNextPage": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
            "endCursor": GraphQLField(GraphQLString),
        },
    )
    connection = GraphQLObjectType(
        "RepositoryConnection",
        {
            "nodes": GraphQLField(GraphQLList(repo)),
            "edges": GraphQLField(GraphQLList(edge)),
            "pageInfo": GraphQLField(GraphQLNonNull(page_info)),
            "totalCount": GraphQLField(GraphQLInt),
        },
    )

    def resolve_repositories(_: Any, __: Any, first: int, after: str | None = None) -> Any:
        start = int(base64.b64decode(after).decode().split(":")[1]) if after else 0
        rows = repos[start : start + first]
        end = start + len(rows)
        return {
            "nodes": rows,
            "edges": [{"cursor": _cursor(start + k + 1), "node": r} for k, r in enumerate(rows)],
            "pageInfo": {
                "hasNextPage": end < len(repos),
                "endCursor": _cursor(end) if rows else None,
            },
            "totalCount": len(repos),
        }

    def resolve_broken(*_: Any) -> None:
        raise ValueError("the broken field always fails")

    user = GraphQLObjectType("User", {"login": GraphQLField(GraphQLString)})
    query = GraphQLObjectType(
        "Query",
        {
            "repositories": GraphQLField(
                GraphQLNonNull(connection),
                args={
                    "first": GraphQLArgument(GraphQLNonNull(GraphQLInt)),
                    "after": GraphQLArgument(GraphQLString),
                },
                resolve=resolve_repositories,
            ),
            "viewer": GraphQLField(GraphQLNonNull(user), resolve=lambda *_: {"login": "me"}),
            "broken": GraphQLField(GraphQLString, resolve=resolve_broken),
        },
    )
    return GraphQLSchema(query)


class GraphQLApi:
    def __init__(self, n: int, *, token: str | None = None) -> None:
        self.schema = _schema([repository(i) for i in range(1, n + 1)])
        self.token = token
        self.faults: dict[int, str] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = WSGIServer(self._app)

    def __enter__(self) -> GraphQLApi:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}/graphql"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        with self._lock:
            self.requests.append({"body": raw, "headers": headers})
            fault = self.faults.pop(len(self.requests), None)
        if fault == "429":
            return _send(start_response, "429 Too Many Requests", {"message": "slow down"},
                         [("Retry-After", "0")])  # fmt: skip
        if fault == "503":
            return _send(start_response, "503 Service Unavailable", {"message": "busy"})
        if fault == "drop":
            return _drop(start_response)
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            return _send(start_response, "401 Unauthorized", {"message": "Bad credentials"})
        if environ["REQUEST_METHOD"] != "POST" or environ["PATH_INFO"] != "/graphql":
            return _send(start_response, "404 Not Found", {"message": "not here"})
        try:
            payload = json.loads(raw)
        except ValueError:
            return _send(start_response, "400 Bad Request", {"errors": [{"message": "bad JSON"}]})
        result = graphql_sync(
            self.schema, payload.get("query", ""), variable_values=payload.get("variables")
        )
        return _send(start_response, "200 OK", result.formatted)


def _send(
    start_response: Any, status: str, body: Any, extra: list[tuple[str, str]] | None = None
) -> Iterator[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(extra or [])],
    )
    return iter([data])


def _drop(start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "999")])
    yield b'{"data": {'
    raise DropConnection
