"""Finding 11: a read-only query can neither write files nor write tables, whatever its comments say.

The old MySQL filter was a regular expression, so `INTO/**/OUTFILE` and its kin went straight to
the server. Now the statement is read by a real SQL tokenizer following the server's lexical rules:
every `INTO`, executable comment and second statement is refused with a 403 naming the rule, while a
string that merely contains those words runs. Writes that look like reads are refused by the server's
own READ ONLY transaction. Through HTTP, against the machine's MariaDB and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlglot.dialects.mysql import MySQL

from headwater.connectors.databases.mysql_statements import check_statement, reading_sql_mode
from tests.fixtures.databases import ScratchDatabase, mysql_admin, pg_connect
from tests.fixtures.hub import RunningHub

OUT = f"/tmp/hw-outfile-{uuid.uuid4().hex}"
BYPASSES = {
    "plain": f"SELECT 1 INTO OUTFILE '{OUT}'",
    "block comment": f"SELECT 1 INTO/**/OUTFILE '{OUT}'",
    "block comment dumpfile": f"SELECT 1 INTO/**/DUMPFILE '{OUT}'",
    "hash comment": f"SELECT 1 INTO#\nOUTFILE '{OUT}'",
    "dash comment": f"SELECT 1 INTO -- x\n DUMPFILE '{OUT}'",
    "tab": f"SELECT 1 INTO\tOUTFILE '{OUT}'",
    "lower case": f"select 1 into outfile '{OUT}'",
    "versioned comment": f"SELECT 1 /*!50000 INTO OUTFILE '{OUT}' */",
    "mariadb versioned comment": f"SELECT 1 /*M!100000 INTO OUTFILE '{OUT}' */",
    "bare executable comment": f"SELECT 1 /*! INTO OUTFILE '{OUT}' */",
    "dashes that are not a comment": f"SELECT 1 --1 INTO OUTFILE '{OUT}'",
    "dashes before a non-ASCII space": f"SELECT 1 --\u00a0INTO OUTFILE '{OUT}'",
    "escaped backslash ending a string": f"SELECT '\\\\' INTO OUTFILE '{OUT}' -- '",
    "variable": "SELECT 1 INTO @stolen",
    "second statement": "SELECT 1; DO SLEEP(0)",
    "executable comment hiding a statement": "/*!50000 DO 1 */ SELECT 1",
}


@pytest.fixture
def api(sqlite_hub: RunningHub) -> Iterator[httpx.Client]:
    with sqlite_hub.client(sqlite_hub.token()) as client:
        yield client


def add_database(api: httpx.Client, db: ScratchDatabase) -> str:
    label = f"d{uuid.uuid4().hex[:8]}"
    api.post(
        "/v1/secrets",
        json={"id": f"s-{label}", "secretType": "database", "accessKey": db.user, "secretKey": db.password},
    ).raise_for_status()
    body = {
        "protocol": db.kind,
        "label": label,
        "params": {"host": db.host, "port": db.port, "database": db.name},
        "secretId": f"s-{label}",
        "access": "read",
    }
    response = api.post("/v1/sources", json=body)
    assert response.status_code == 201, response.text
    return f"/v1/connector/{db.kind}+{label}/-/query"


@pytest.fixture
def mysql_query(api: httpx.Client, mysql_db: ScratchDatabase) -> Iterator[tuple[str, str]]:
    """A query URL on a MariaDB source, and a table `db`.`t_*` with one row, plus a sequence `db`.`s_*`."""
    table = f"`{mysql_db.name}`.`t_{uuid.uuid4().hex[:8]}`"
    with mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id int, note varchar(40)) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO {table} VALUES (1, 'INTO OUTFILE is just text here')")
    yield add_database(api, mysql_db), table
    with mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_every_way_of_spelling_into_or_a_second_statement_is_refused(
    api: httpx.Client, mysql_query: tuple[str, str], name: str
) -> None:
    url, _ = mysql_query
    response = api.post(url, json={"sql": BYPASSES[name]})
    assert response.status_code == 403, response.text
    message = response.json()["error"]["message"]
    assert any(rule in message for rule in ("INTO", "executable comments", "one statement", "non-ASCII space")), message


def test_a_plain_select_and_strings_containing_into_still_run(api: httpx.Client, mysql_query: tuple[str, str]) -> None:
    url, table = mysql_query
    rows = api.post(
        url, json={"sql": f"SELECT id, note FROM {table} WHERE note LIKE '%INTO OUTFILE%' -- into outfile\n"}
    )
    assert rows.status_code == 200, rows.text
    assert [json.loads(line) for line in rows.text.splitlines()] == [
        {"id": 1, "note": "INTO OUTFILE is just text here"}
    ]
    assert rows.headers["x-content-type-options"] == "nosniff" and rows.headers["content-security-policy"] == "sandbox"
    quoted = api.post(
        url, json={"sql": 'SELECT \'a /*! b */ INTO OUTFILE\' AS `into`, "x\\" INTO" AS y /* INTO */ # INTO\n;'}
    )
    assert quoted.status_code == 200, quoted.text
    assert json.loads(quoted.text) == {"into": "a /*! b */ INTO OUTFILE", "y": 'x" INTO'}


def test_a_write_that_reads_like_a_select_is_refused_by_mariadb_itself(
    api: httpx.Client, mysql_query: tuple[str, str], mysql_db: ScratchDatabase
) -> None:
    url, table = mysql_query
    sequence = f"`{mysql_db.name}`.`s_{uuid.uuid4().hex[:8]}`"
    with mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE SEQUENCE {sequence}")
    try:
        for sql in (f"SELECT NEXTVAL({sequence})", f"SELECT * FROM {table} FOR UPDATE"):
            response = api.post(url, json={"sql": sql})
            assert response.status_code == 403, response.text
            assert (
                "read-only" in response.json()["error"]["message"] or "READ ONLY" in response.json()["error"]["message"]
            )
        for sql in (
            f"INSERT INTO {table} VALUES (2, 'x')",
            f"UPDATE {table} SET id = 3",
            f"CREATE TABLE {table}_x (a int)",
        ):
            assert api.post(url, json={"sql": sql}).status_code == 403
        with mysql_admin() as conn, conn.cursor() as cur:
            cur.execute(f"SELECT NEXTVAL({sequence})")
            assert cur.fetchone()[0] == 1  # the refused query never advanced it
            cur.execute(f"SELECT id FROM {table}")
            assert cur.fetchall() == ((1,),)
    finally:
        with mysql_admin() as conn, conn.cursor() as cur:
            cur.execute(f"DROP SEQUENCE IF EXISTS {sequence}")


@pytest.fixture
def pg_query(api: httpx.Client, pg_db: ScratchDatabase) -> Iterator[tuple[str, str]]:
    table = f"t_{uuid.uuid4().hex[:8]}"
    with pg_connect(pg_db) as conn:
        conn.execute(f"CREATE TABLE {table} (id int)")
        conn.execute(f"INSERT INTO {table} VALUES (1)")
        conn.execute(f"CREATE SEQUENCE {table}_seq")
    yield add_database(api, pg_db), table
    with pg_connect(pg_db) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}, {table}_copy")
        conn.execute(f"DROP SEQUENCE IF EXISTS {table}_seq")


def test_postgres_runs_one_statement_in_a_read_only_transaction(
    api: httpx.Client, pg_query: tuple[str, str], pg_db: ScratchDatabase
) -> None:
    url, table = pg_query
    assert api.post(url, json={"sql": f"SELECT id FROM {table}"}).text == '{"id":1}\n'
    refused = {
        f"WITH gone AS (DELETE FROM {table} RETURNING id) SELECT * FROM gone": (400, 403),
        f"SELECT nextval('{table}_seq')": (403,),
        f"SELECT 1; DROP TABLE {table}": (400, 403),
        f"SELECT * INTO {table}_copy FROM {table}": (400, 403),
        f"INSERT INTO {table} VALUES (2)": (403,),
        f"CREATE TABLE {table}_copy (a int)": (403,),
    }
    for sql, statuses in refused.items():
        response = api.post(url, json={"sql": sql})
        assert response.status_code in statuses, (sql, response.text)
    with pg_connect(pg_db) as conn:
        assert conn.execute(f"SELECT id FROM {table}").fetchall() == [(1,)]
        assert conn.execute(f"SELECT nextval('{table}_seq')").fetchone() == (1,)
        assert conn.execute(f"SELECT to_regclass('{table}_copy')").fetchone() == (None,)


def test_the_tokenizer_follows_the_servers_comment_rules() -> None:
    tokenizer = MySQL().tokenizer()
    assert [t.text for t in tokenizer.tokenize("SELECT 1 --1")] == ["SELECT", "1", "-", "-", "1"]  # not a comment
    assert [t.text for t in tokenizer.tokenize("SELECT 1 /* a /* b */ + 2 */")][-2:] == ["*", "/"]  # no nesting
    assert check_statement("SELECT '\\'' AS q") == "SELECT '\\'' AS q"


def test_the_session_sql_mode_drops_the_flags_that_change_lexing() -> None:
    assert (
        reading_sql_mode("STRICT_TRANS_TABLES,ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT,ANSI")
        == "STRICT_TRANS_TABLES,PIPES_AS_CONCAT"
    )
    assert reading_sql_mode("") == ""
