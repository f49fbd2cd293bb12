"""The unmodified e2b SDK against the stand-in, over real HTTP, with real subprocesses."""

from __future__ import annotations

import io
import os
from types import ModuleType

import pytest

from testing.e2b_standin import E2BStandin, UploadRecord, eventually, pid_alive

STREAM_SCRIPT = """\
import os, sys, time
print("first", flush=True)
for _ in range(500):
    if os.path.exists("go"):
        break
    time.sleep(0.02)
else:
    sys.exit("no go file: the first line was not streamed before the command ended")
print("second", os.environ["SANDBOX_LEVEL"], os.environ["CMD_LEVEL"], flush=True)
print("leak:", os.environ.get("STANDIN_LEAK_PROBE", "absent"), flush=True)
print("to stderr", file=sys.stderr, flush=True)
"""


def test_command_output_streams_live_with_sandbox_and_command_envs(
    standin: E2BStandin, e2b: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only what the SDK sends may reach a command, never the environment of the test process.
    monkeypatch.setenv("STANDIN_LEAK_PROBE", "leaked")
    stdout: list[str] = []
    stderr: list[str] = []
    with e2b.Sandbox.create(
        template="osiris-test", envs={"SANDBOX_LEVEL": "create"}, metadata={"run": "r1"}
    ) as sandbox:
        sandbox.files.write("stream.py", STREAM_SCRIPT)

        def on_stdout(text: str) -> None:
            stdout.append(text)
            if "first" in text:
                sandbox.files.write("go", "")

        result = sandbox.commands.run(
            "python stream.py",
            envs={"CMD_LEVEL": "run"},
            on_stdout=on_stdout,
            on_stderr=stderr.append,
        )

    assert result.exit_code == 0
    assert result.stdout == "first\nsecond create run\nleak: absent\n"
    assert "".join(stdout) == result.stdout
    assert result.stderr == "to stderr\n"
    assert "".join(stderr) == "to stderr\n"
    (record,) = standin.history
    assert (record.template, record.metadata, record.envs) == (
        "osiris-test",
        {"run": "r1"},
        {"SANDBOX_LEVEL": "create"},
    )
    assert [(c.cmd, c.envs, c.cwd, c.exit_code) for c in record.commands] == [
        ("python stream.py", {"CMD_LEVEL": "run"}, None, 0)
    ]
    assert record.commands[0].argv == ["/bin/bash", "-l", "-c", "python stream.py"]
    assert record.uploads == [
        UploadRecord("/home/user/stream.py", len(STREAM_SCRIPT)),
        UploadRecord("/home/user/go", 0),
    ]
    assert (record.killed, record.end_reason) == (True, "killed")


def test_nonzero_exit_raises_command_exit_exception(standin: E2BStandin, e2b: ModuleType) -> None:
    with e2b.Sandbox.create() as sandbox, pytest.raises(e2b.CommandExitException) as caught:
        sandbox.commands.run("echo partial; echo broke >&2; exit 3")
    assert (caught.value.exit_code, caught.value.stdout, caught.value.stderr) == (
        3,
        "partial\n",
        "broke\n",
    )
    assert caught.value.error == "exit status 3"
    assert standin.history[0].commands[0].exit_code == 3


def test_the_osiris_package_is_importable_inside_a_sandbox(
    standin: E2BStandin, e2b: ModuleType
) -> None:
    with e2b.Sandbox.create() as sandbox:
        result = sandbox.commands.run("python -c 'import osiris; print(osiris.__name__)'")
    assert result.stdout == "osiris\n"


def test_cwd_and_paths_map_into_the_sandbox_directory(standin: E2BStandin, e2b: ModuleType) -> None:
    with e2b.Sandbox.create() as sandbox:
        root = standin.sandboxes[sandbox.sandbox_id].root
        assert sandbox.files.make_dir("/home/user/work") is True
        assert sandbox.files.make_dir("work") is False
        sandbox.commands.run("echo made > out.txt", cwd="/home/user/work")
        assert sandbox.files.read("/home/user/work/out.txt") == "made\n"
        assert (root / "home/user/work/out.txt").read_text() == "made\n"
        sandbox.files.write("/opt/data/x.bin", b"\x00\x01")
        assert (root / "opt/data/x.bin").read_bytes() == b"\x00\x01"
        with pytest.raises(e2b.InvalidArgumentException, match="cwd '/nowhere' does not exist"):
            sandbox.commands.run("true", cwd="/nowhere")
    assert not root.exists()
    assert standin.history[0].commands[0].cwd == "/home/user/work"


def test_files_round_trip_text_binary_and_large(standin: E2BStandin, e2b: ModuleType) -> None:
    binary = bytes(range(256)) * 4
    large = os.urandom(5 * 1024 * 1024)
    with e2b.Sandbox.create() as sandbox:
        info = sandbox.files.write("data/text.txt", "héllo\nwörld\n")
        assert (info.name, info.path) == ("text.txt", "/home/user/data/text.txt")
        sandbox.files.write("/home/user/data/raw.bin", binary)
        sandbox.files.write_files(
            [{"path": "data/big.bin", "data": large}, {"path": "data/sub/x.txt", "data": "x"}]
        )
        assert sandbox.files.read("data/text.txt") == "héllo\nwörld\n"
        assert bytes(sandbox.files.read("data/raw.bin", format="bytes")) == binary
        assert bytes(sandbox.files.read("data/big.bin", format="bytes")) == large
        assert b"".join(sandbox.files.read("data/raw.bin", format="stream")) == binary

        top = sandbox.files.list("data")
        assert [(e.name, e.type.value, e.path) for e in top] == [
            ("big.bin", "file", "/home/user/data/big.bin"),
            ("raw.bin", "file", "/home/user/data/raw.bin"),
            ("sub", "dir", "/home/user/data/sub"),
            ("text.txt", "file", "/home/user/data/text.txt"),
        ]
        assert top[0].size == len(large)
        deep = sandbox.files.list("/home/user/data", depth=2)
        assert [e.path for e in deep][-2:] == [
            "/home/user/data/sub/x.txt",
            "/home/user/data/text.txt",
        ]

        assert sandbox.files.exists("data/sub/x.txt") is True
        sandbox.files.remove("data/sub")
        assert sandbox.files.exists("data/sub/x.txt") is False
        with pytest.raises(e2b.FileNotFoundException):
            sandbox.files.read("data/sub/x.txt")
        with pytest.raises(e2b.FileNotFoundException):
            sandbox.files.remove("data/sub")
    assert [(u.path, u.size) for u in standin.history[0].uploads] == [
        ("/home/user/data/text.txt", len("héllo\nwörld\n".encode())),
        ("/home/user/data/raw.bin", 1024),
        ("/home/user/data/big.bin", 5 * 1024 * 1024),
        ("/home/user/data/sub/x.txt", 1),
    ]


def test_octet_stream_gzip_and_streamed_uploads(standin: E2BStandin, e2b: ModuleType) -> None:
    with e2b.Sandbox.create() as sandbox:
        sandbox.files.write("gz.txt", "z" * 1000, gzip=True)
        sandbox.files.write("raw.txt", "plain", use_octet_stream=True)
        sandbox.files.write("streamed.bin", io.BytesIO(b"abc" * 100_000))
        assert sandbox.files.read("gz.txt") == "z" * 1000
        assert sandbox.files.read("raw.txt") == "plain"
        assert bytes(sandbox.files.read("streamed.bin", format="bytes")) == b"abc" * 100_000
    assert [(u.path, u.size) for u in standin.history[0].uploads] == [
        ("/home/user/gz.txt", 1000),
        ("/home/user/raw.txt", 5),
        ("/home/user/streamed.bin", 300_000),
    ]


def test_kill_ends_processes_and_removes_the_directory(
    standin: E2BStandin, e2b: ModuleType
) -> None:
    sandbox = e2b.Sandbox.create()
    root = standin.sandboxes[sandbox.sandbox_id].root
    handle = sandbox.commands.run(
        'python -c \'import os, time; open("pid", "w").write(str(os.getpid())); time.sleep(60)\'',
        background=True,
    )
    assert eventually(
        lambda: (root / "home/user/pid").exists() and (root / "home/user/pid").read_text() != ""
    )
    pid = int((root / "home/user/pid").read_text())
    assert pid_alive(pid) and pid_alive(handle.pid)

    assert sandbox.kill() is True

    assert eventually(lambda: not pid_alive(pid))
    assert not pid_alive(handle.pid)
    assert not root.exists()
    assert sandbox.is_running() is False
    assert e2b.Sandbox.kill(sandbox.sandbox_id) is False
    with pytest.raises(e2b.SandboxNotRunningException):
        sandbox.commands.run("true")
    assert (standin.history[0].killed, standin.history[0].end_reason) == (True, "killed")


def test_sandbox_timeout_expiry_kills_the_sandbox(standin: E2BStandin, e2b: ModuleType) -> None:
    sandbox = e2b.Sandbox.create(timeout=60)
    handle = sandbox.commands.run("sleep 60", background=True)
    sandbox.set_timeout(1)

    assert eventually(lambda: standin.sandboxes == {})
    assert eventually(lambda: not pid_alive(handle.pid))
    assert standin.history[0].end_reason == "timeout"
    assert sandbox.is_running() is False
    with pytest.raises(e2b.SandboxNotRunningException):
        handle.wait()


def test_command_timeout_kills_the_command(standin: E2BStandin, e2b: ModuleType) -> None:
    with e2b.Sandbox.create() as sandbox:
        with pytest.raises(e2b.TimeoutException):
            sandbox.commands.run("sleep 30", timeout=1)
        command = standin.history[0].commands[0]
        assert eventually(lambda: not pid_alive(command.pid))
        assert eventually(lambda: command.exit_code == -9)


def test_background_command_list_kill_and_stdin(standin: E2BStandin, e2b: ModuleType) -> None:
    with e2b.Sandbox.create() as sandbox:
        sleeper = sandbox.commands.run("sleep 30", background=True)
        (listed,) = sandbox.commands.list()
        assert (listed.pid, listed.cmd, listed.args) == (
            sleeper.pid,
            "/bin/bash",
            ["-l", "-c", "sleep 30"],
        )
        assert sandbox.commands.kill(sleeper.pid) is True
        with pytest.raises(e2b.CommandExitException) as caught:
            sleeper.wait()
        assert (caught.value.exit_code, caught.value.error) == (-1, "signal: killed")
        assert sandbox.commands.kill(sleeper.pid) is False

        sandbox.commands.run("mkfifo gate")
        talker = sandbox.commands.run("echo one; read line < gate; echo two", background=True)
        attached = sandbox.commands.connect(talker.pid)
        sandbox.commands.run("echo > gate")
        # Connect sees what is printed after it attached; "one" may or may not come before.
        assert attached.wait().stdout.endswith("two\n")
        assert talker.wait().stdout == "one\ntwo\n"

        cat = sandbox.commands.run("cat", background=True, stdin=True)
        sandbox.commands.send_stdin(cat.pid, "piped in\n")
        sandbox.commands.close_stdin(cat.pid)
        assert cat.wait().stdout == "piped in\n"
        assert sandbox.commands.list() == []


def test_connect_get_info_and_list(standin: E2BStandin, e2b: ModuleType) -> None:
    with e2b.Sandbox.create(metadata={"k": "v"}, timeout=120) as sandbox:
        again = e2b.Sandbox.connect(sandbox.sandbox_id)
        assert again.commands.run("echo via connect").stdout == "via connect\n"
        info = sandbox.get_info()
        assert (info.sandbox_id, info.template_id, info.metadata) == (
            sandbox.sandbox_id,
            "base",
            {"k": "v"},
        )
        assert [s.sandbox_id for s in e2b.Sandbox.list().next_items()] == [sandbox.sandbox_id]


def test_wrong_api_key_is_refused_like_the_real_api(standin: E2BStandin, e2b: ModuleType) -> None:
    with pytest.raises(e2b.AuthenticationException, match="401: Unauthorized"):
        e2b.Sandbox.create(api_key="e2b_wrong")
    assert standin.history == []
