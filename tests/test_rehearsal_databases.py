"""The rehearsal's databases: the stand-in server and its mysql client, piece by piece."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runbook.rehearsal import mysqlclient, mysqlfake, sandbox

ODD_PASSWORD = "Old#Db: Pa55\\=word! \"q\" 's' $x `y` "


def write_options(path: Path, user: str, password: str, *, quoted: bool = True) -> Path:
    text = (mysqlclient.option_file(user, password) if quoted
            else f"[client]\nuser={user}\npassword={password}\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


# --- the pieces -------------------------------------------------------------------------


def test_statements_are_cut_where_the_client_cuts_them() -> None:
    text = ("-- a comment; not a statement\n"
            "/*!40101 SET NAMES utf8mb4 */;\n"
            "INSERT INTO `t` VALUES ('a;b', \"c\\\";d\"); # trailing; comment\n"
            "\n"
            "CREATE TABLE `x` (\n  `id` int /* inline; */ NOT NULL\n);\n"
            " --\n"
            "SELECT 1")
    assert mysqlclient.split_statements(text) == [
        (2, "/*!40101 SET NAMES utf8mb4 */"),
        (3, "INSERT INTO `t` VALUES ('a;b', \"c\\\";d\")"),
        (5, "CREATE TABLE `x` (\n  `id` int   NOT NULL\n)"),
        (9, "SELECT 1"),
    ]
    statements = mysqlclient.split_statements(sandbox.data_text("cluster.sql.6.2.0.b406"))
    creates = [(at, sql) for at, sql in statements if sql.startswith("CREATE TABLE")]
    assert len(creates) == 26 and creates[0][0] == 30


def test_option_files_read_as_mariadb_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "c.cnf"
    for password in (ODD_PASSWORD, "plain", "", "tab\there\nnewline\\"):
        write_options(path, "u", password)
        assert dict(mysqlclient.read_option_file(path)) == {"user": "u", "password": password}
    path.write_text('[mysqld]\nuser=nobody\n[client]\nuser = u # note\npassword=a#b\n'
                    'password2="x\\=y" # comment\n')
    assert mysqlclient.read_option_file(path) == [
        ("user", "u"), ("password", "a"), ("password2", "x\\=y")]
    path.chmod(0o666)
    warned: list[str] = []
    assert mysqlclient.read_option_file(path, warn=warned.append) == []
    assert warned == [f"Warning: World-writable config file '{path}' is ignored"]


def test_the_stand_in_refuses_what_a_server_refuses(tmp_path: Path) -> None:
    state = mysqlfake.ServerState.create(tmp_path / "s.json")
    state.create_user("smadmin", "pw", ["cluster"])
    session = mysqlfake.Session(state, "smadmin")
    with pytest.raises(mysqlclient.SqlError, match="1046"):
        session.execute("CREATE TABLE t (a int)")
    session.execute("CREATE DATABASE cluster")
    session.use("cluster")
    session.execute("CREATE TABLE `t` (a int)")
    with pytest.raises(mysqlclient.SqlError) as exists:
        session.execute("CREATE TABLE t (a int)")
    assert exists.value.line(4) == "ERROR 1050 (42S01) at line 4: Table 't' already exists"
    with pytest.raises(mysqlclient.SqlError, match="1146"):
        session.execute("INSERT INTO nope VALUES (1)")
    with pytest.raises(mysqlclient.SqlError, match="1064"):
        session.execute("GRANT ALL ON *.* TO smadmin")
    assert session.execute("SHOW TABLES").rows == [["t"]]
    assert state.authenticate("smadmin", "pw") and not state.authenticate("smadmin", "pW")
