from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osiris.session.masking import Masker
from osiris.session.writers import MaskingLineWriter

SECRET = "s3cr3t!@#"


def test_plain_secret_is_masked_everywhere_in_the_text():
    masker = Masker([SECRET])
    assert masker.mask(f"login with {SECRET} then {SECRET}.") == "login with *** then ***."


@pytest.mark.parametrize(
    "form",
    [
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
    ],
)
def test_encoded_forms_are_masked(form):
    assert Masker([SECRET]).mask(f"value={form}!") == "value=***!"


def test_json_escaped_form_is_masked():
    secret = 'pa"ss\\word'
    line = json.dumps({"msg": f"using {secret}"})
    masked = Masker([secret]).mask(line)
    assert masked == '{"msg": "using ***"}'
    assert json.loads(masked) == {"msg": "using ***"}


def test_secret_inside_a_basic_auth_header_is_masked():
    header = "Basic " + base64.b64encode(f"user:{SECRET}".encode()).decode()
    # "dXNlcjp" encodes "user:" plus two bits of the secret; "M=" only its last bits.
    assert Masker([SECRET]).mask(f"X-Proxy: {header}") == "X-Proxy: Basic dXNlcjp***M="


def _core(blob: str, start: int, length: int) -> str:
    """The base64 characters made only of the bits of bytes [start, start + length)."""
    first = -(-8 * start // 6)
    last = 8 * (start + length) // 6
    return blob[first:last]


@settings(max_examples=60, deadline=None)
@given(
    secret=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=6),
    prefix=st.binary(max_size=7),
    suffix=st.binary(max_size=7),
)
def test_base64_of_a_secret_inside_any_blob_is_masked(secret, prefix, suffix):
    raw = secret.encode()
    blob = base64.b64encode(prefix + raw + suffix).decode()
    core = _core(blob, len(prefix), len(raw))
    masked = Masker([secret]).mask(blob)
    assert core not in masked
    assert "***" in masked


def test_multiline_secret_is_masked_whole_and_line_by_line(tmp_path: Path):
    key = "-----BEGIN KEY-----\nAAAAB3NzaC1yc2E\nQABAAABAQC7\n-----END KEY-----"
    masker = Masker([key])
    assert masker.mask(f"key:\n{key}\ndone") == "key:\n***\ndone"

    out = tmp_path / "stderr.txt"
    writer = MaskingLineWriter(out, masker)
    for line in f"loading\n{key}\nok".splitlines():
        writer(line)
    writer.close()
    assert out.read_text() == "loading\n***\n***\n***\n***\nok\n"


def test_short_and_empty_values_are_not_registered():
    masker = Masker(["", "ab", None])  # type: ignore[list-item]
    assert masker.secrets == ()
    assert masker.mask("ab cd") == "ab cd"
    masker.add("abc")
    assert masker.mask("abc abcd") == "*** ***d"


def test_longest_secret_wins():
    masker = Masker(["abcd", "abcdefgh"])
    assert masker.mask("xabcdefghx abcdx") == "x***x ***x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mysql://root:hunter2@db:3306/shop", "mysql://root:***@db:3306/shop"),
        ("postgresql://u:p@ss@db/x?sslmode=require", "postgresql://u:***@db/x?sslmode=require"),
        ("redis://:pw123@cache:6379", "redis://:***@cache:6379"),
        ("https://example.com:8443/a@b", "https://example.com:8443/a@b"),
        ("host=db user=app password=hunter2 dbname=x", "host=db user=app password=*** dbname=x"),
        ("host=db password='two words' port=1", "host=db password='***' port=1"),
        (
            "Driver={MariaDB};Server=db;UID=app;PWD={p;w};",
            "Driver={MariaDB};Server=db;UID=app;PWD={***};",
        ),
        ("GET /api?api_key=abc123&page=2", "GET /api?api_key=***&page=2"),
        ("MYSQL_PASSWORD=hunter2", "MYSQL_PASSWORD=***"),
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig", "Authorization: Bearer ***"),
        ("authorization: Basic dXNlcjpwYXNz", "authorization: Basic ***"),
        ('{"Authorization": "Bearer tok_123"}', '{"Authorization": "Bearer ***"}'),
        ("X-API-KEY: abcdef123", "X-API-KEY: ***"),
        ("curl -H 'x-api-key: abcdef123'", "curl -H 'x-api-key: ***'"),
        ("sent bearer abc.def-123 upstream", "sent bearer *** upstream"),
        ('{"password": "hunter2", "user": "app"}', '{"password": "***", "user": "app"}'),
        ("{'service_role_key': 'eyJ0'}", "{'service_role_key': '***'}"),
    ],
)
def test_pattern_rules_mask_unregistered_credentials(text, expected):
    masker = Masker()
    assert masker.mask(text) == expected
    assert masker.mask(expected) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"password": "${PG_PASSWORD}"}',
        "postgresql://app:${PG_PASSWORD}@db/x",
        "password=${MYSQL_PASSWORD}",
        "config.password: a literal secret is not allowed",
        "Bearer authentication is required",
        "max_tokens=5 secret_fields=password",
    ],
)
def test_env_references_and_prose_are_left_alone(text):
    assert Masker().mask(text) == text


def test_mask_obj_masks_keys_values_and_sensitive_entries():
    masker = Masker([SECRET])
    obj = {
        "note": f"pw {SECRET}",
        SECRET: [1, 2.5, True, None, (f"x{SECRET}",)],
        "password": "literal",
        "api_key": 1234,
        "db_password": "${DB_PASSWORD}",
        "secret_fields": ["password"],
        "path": Path("/srv/data"),
        "tags": {"b", "a"},
    }
    assert masker.mask_obj(obj) == {
        "note": "pw ***",
        "***": [1, 2.5, True, None, ["x***"]],
        "password": "***",
        "api_key": "***",
        "db_password": "${DB_PASSWORD}",
        "secret_fields": ["password"],
        "path": "/srv/data",
        "tags": ["a", "b"],
    }


def test_from_manifest_registers_env_values_defaults_and_resolved_fields():
    manifest = {
        "env": {"required": ["PG_USER"], "optional": [], "secret": ["MYSQL_PASSWORD"]},
        "connections": {
            "@mysql.default": {
                "family": "mysql",
                "alias": "default",
                "fields": {"host": "${MYSQL_HOST:-127.0.0.1}", "password": "${MYSQL_PASSWORD}"},
                "secret_fields": ["password"],
                "env": ["MYSQL_HOST", "MYSQL_PASSWORD"],
            },
            "@postgres.wh": {
                "family": "postgres",
                "alias": "wh",
                "fields": {
                    "dsn": "postgresql://${PG_USER}:${PG_PASS:-fallback-pw}@wh/db",
                    "user": "${PG_USER}",
                },
                "secret_fields": ["dsn"],
                "env": ["PG_PASS", "PG_USER"],
            },
        },
    }
    environ = {
        "MYSQL_PASSWORD": "my-pass",
        "MYSQL_HOST": "db.internal",
        "PG_USER": "loader",
        "UNRELATED": "not-a-secret",
    }
    masker = Masker.from_manifest(manifest, environ)
    assert masker.secrets == (
        "fallback-pw",
        "loader",
        "my-pass",
        "postgresql://loader:fallback-pw@wh/db",
    )
    assert masker.mask("db.internal not-a-secret my-pass") == "db.internal not-a-secret ***"


def test_forms_lists_what_gets_masked_longest_first():
    forms = Masker(["a b/c"]).forms
    assert forms[0] == max(forms, key=len)
    assert {"a b/c", "a%20b%2Fc", "a%20b/c", "a+b%2Fc", "YSBiL2M="} <= set(forms)
