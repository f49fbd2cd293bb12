"""Which channel a Supabase connection uses, and where it goes."""

from __future__ import annotations

import pytest

from osiris.components.api import StepError
from osiris.components.families import endpoints
from osiris.components.postgres._conn import server
from osiris.components.supabase.connection import database_fields, has_database, rest_target


def test_a_password_names_the_project_database():
    fields = database_fields(
        {"url": "https://abcdefgh.supabase.co", "password": "pw", "key": "k" * 20}
    )
    srv = server(fields, 5, "supabase.extractor")
    assert srv.conninfo == (
        "host='db.abcdefgh.supabase.co' port='5432' user='postgres' dbname='postgres' "
        "connect_timeout='5' application_name='osiris' password='pw' sslmode='require'"
    )
    assert srv.where == "db.abcdefgh.supabase.co:5432"
    pooled = server(
        database_fields(
            {"project_ref": "abcdefgh", "host": "pooler.example", "user": "postgres.x"}
        ),
        0.5,
        "supabase.writer",
    )
    assert pooled.conninfo == (
        "host='pooler.example' port='5432' user='postgres.x' dbname='postgres.x' "
        "connect_timeout='2' application_name='osiris'"
    )


def test_url_and_key_alone_mean_the_rest_api():
    fields = {"url": "https://abcdefgh.supabase.co/", "key": "secret-key"}
    assert not has_database(fields)
    assert database_fields(fields) is None
    assert rest_target(fields) == ("https://abcdefgh.supabase.co", "secret-key")
    assert rest_target({"project_ref": "xyz", "key": "k"}) == ("https://xyz.supabase.co", "k")
    # the network allow-list sees the API's host and port
    assert endpoints("supabase", fields) == [("abcdefgh.supabase.co", 443)]
    assert endpoints("supabase", {"url": "http://127.0.0.1:8123", "key": "k"}) == [
        ("127.0.0.1", 8123)
    ]
    assert endpoints("supabase", {"dsn": "postgresql://u:p@db.x.supabase.co:6543/postgres"}) == [
        ("db.x.supabase.co", 6543)
    ]


@pytest.mark.parametrize(
    ("fields", "missing"),
    [({"url": "https://a.supabase.co"}, "service_role_key"), ({"key": "k"}, "url")],
)
def test_rest_without_url_or_key_says_what_to_add(fields, missing):
    with pytest.raises(StepError) as err:
        rest_target(fields)
    assert err.value.code == "config.invalid"
    assert f"has no {missing}" in err.value.message


def test_the_allow_list_takes_the_supabase_url():
    from osiris.network import is_allowed

    allow = ["https://abcdefghijklmnop.supabase.co"]
    ((host, port),) = endpoints("supabase", {"url": allow[0], "key": "k"})
    assert is_allowed(allow, host, port)  # host:443
    assert not is_allowed(allow, host, 5432)
    assert not is_allowed(allow, "db.abcdefghijklmnop.supabase.co", 5432)
