"""graphql.extractor end to end: upstream-Osiris-style pipelines, real `osiris run`, and a real
GraphQL endpoint (graphql-core executing every query, testing/graphql_api.py)."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path
from typing import Any

from testing.graphql_api import GraphQLApi, repository
from testing.runner_helpers import osiris_cli, write_pipeline

TOKEN = "ghp_canaryToken0123456789abcdef"

# as upstream Osiris writes it: kebab-case ids, mode: read, the token from the environment
PIPELINE = """
oml_version: "0.1.0"
name: github-repos
steps:
  - id: extract-repos
    component: graphql.extractor
    mode: read
    config:
      endpoint: "{endpoint}"
      query: |
        query Repos($first: Int!, $after: String) {{
          repositories(first: $first, after: $after) {{
            edges {{ node {{ id name stargazerCount score isPrivate owner {{ login }} topics }} }}
            pageInfo {{ hasNextPage endCursor }}
          }}
        }}
      variables: {{first: 7}}
      auth_type: bearer
      auth_token: "${{GITHUB_TOKEN}}"
      pagination_enabled: true
      pagination_path: data.repositories.pageInfo
      data_path: "data.repositories.edges[*].node"
{extra}
  - id: write-repos
    component: filesystem.csv_writer
    mode: write
    needs: [extract-repos]
    config:
      path: ./output/repos.csv
"""


def run(tmp_path: Path, endpoint: str, extra: str = "", token: str = TOKEN) -> Any:
    write_pipeline(tmp_path, PIPELINE.format(endpoint=endpoint, extra=extra))
    return osiris_cli("run", "pipeline.yaml", "--json", cwd=tmp_path, env={"GITHUB_TOKEN": token})


def rows(tmp_path: Path) -> list[dict[str, str]]:
    with (tmp_path / "output" / "repos.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def expected(n: int) -> list[dict[str, str]]:
    out = []
    for i in range(1, n + 1):
        r = repository(i)
        out.append(
            {
                "id": r["id"],
                "name": r["name"],
                "stargazerCount": str(r["stargazerCount"]),
                "score": repr(r["score"]) if r["score"] % 1 else str(int(r["score"])),
                "isPrivate": "true" if r["isPrivate"] else "false",
                "owner_login": r["owner"]["login"],
                "topics": json.dumps(r["topics"]),
            }
        )
    return out


def test_every_page_through_a_429_with_the_token_in_no_file(tmp_path):
    with GraphQLApi(40, token=TOKEN) as api:
        api.faults = {3: "429"}
        done = run(tmp_path, api.url)
        bodies = [json.loads(r["body"]) for r in api.requests if r["body"]]
    assert done.returncode == 0, done.stderr
    got = rows(tmp_path)
    assert [r["id"] for r in got] == [f"R_{i}" for i in range(1, 41)]
    assert got[4]["owner_login"] == "user2" and got[4]["stargazerCount"] == "50"
    # 6 pages of 7 (the last one short) plus the retried one; each next page asks `after`
    assert len(bodies) == 7
    assert bodies[0]["variables"] == {"first": 7}
    assert all(b["variables"]["after"] for b in bodies[1:])
    assert json.loads(done.stdout)["rows_written"] == 40
    stderr = (next((tmp_path / "logs").iterdir()) / "artifacts" / "stderr.txt").read_text()
    assert "step extract-repos: HTTP 429 on POST" in stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as zf:
                    data = b"".join(zf.read(n) for n in zf.namelist())
            assert TOKEN.encode() not in data, path


def test_values_and_types_are_the_servers(tmp_path):
    with GraphQLApi(9) as api:
        done = run(tmp_path, api.url, token="unused-token-12345")
    assert done.returncode == 0, done.stderr
    assert rows(tmp_path) == expected(9)


def run_config(tmp_path: Path, config: dict[str, Any]) -> Any:
    """A two-step pipeline around a graphql.extractor config given as a dict."""
    text = (
        'oml_version: "0.1.0"\nname: gql\nsteps:\n'
        "  - id: extract-repos\n    component: graphql.extractor\n    mode: read\n"
        f"    config: {json.dumps(config)}\n"
        "  - id: write-repos\n    component: filesystem.csv_writer\n    mode: write\n"
        "    needs: [extract-repos]\n    config: {path: ./output/repos.csv}\n"
    )
    write_pipeline(tmp_path, text)
    return osiris_cli("run", "pipeline.yaml", "--json", cwd=tmp_path)


def test_graphql_errors_in_a_200_answer_fail_the_step_with_the_servers_message(tmp_path):
    with GraphQLApi(5) as api:
        done = run_config(
            tmp_path,
            {"endpoint": api.url, "data_path": "data.repositories.nodes",
             "query": "{ broken repositories(first: 2) { nodes { id } } }"},
        )  # fmt: skip
    assert done.returncode == 1, done.stdout
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "graphql.errors"
    assert "the broken field always fails (at broken)" in error["message"]
    assert not (tmp_path / "output" / "repos.csv").exists()


def test_a_query_the_schema_rejects_is_the_servers_message(tmp_path):
    with GraphQLApi(5) as api:
        done = run_config(
            tmp_path,
            {"endpoint": api.url, "data_path": "data.repositories.nodes",
             "query": "{ repositories(first: 2) { nodes { stars } } }"},
        )  # fmt: skip
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "graphql.errors"
    assert "Cannot query field 'stars' on type 'Repository'" in error["message"]


def test_a_wrong_token_and_a_wrong_data_path_are_clear_errors(tmp_path):
    with GraphQLApi(5, token=TOKEN) as api:
        wrong = run(tmp_path, api.url, token="not-the-token-123")
    with GraphQLApi(5) as api:
        lost = run_config(
            tmp_path,
            {"endpoint": api.url, "data_path": "data.repos.nodes",
             "query": "{ repositories(first: 2) { nodes { id } } }"},
        )  # fmt: skip
    assert wrong.returncode == 1
    error = json.loads(wrong.stdout)["error"]
    assert error["code"] == "auth.failed" and "answered 401" in error["message"]
    assert lost.returncode == 1
    error = json.loads(lost.stdout)["error"]
    assert error["code"] == "http.bad_shape"
    assert (
        "nothing at `data_path` data.repos.nodes; the answer's data has: repositories"
        in (error["message"])
    )


def test_max_pages_and_a_dropped_connection(tmp_path):
    with GraphQLApi(40) as api:
        api.faults = {2: "drop", 4: "503"}
        done = run(tmp_path, api.url, extra="      max_pages: 3", token="x-token-123456")
        assert len(api.requests) == 5
    assert done.returncode == 0, done.stderr
    assert len(rows(tmp_path)) == 21
