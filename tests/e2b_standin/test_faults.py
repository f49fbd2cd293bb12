"""Each injected fault gives the SDK exception the real E2B would give."""

from __future__ import annotations

import threading
from types import ModuleType

import httpx
import pytest

from testing.e2b_standin import E2BStandin, eventually, pid_alive


def test_create_401_raises_authentication_exception(standin: E2BStandin, e2b: ModuleType) -> None:
    standin.faults.create_errors = [401]
    with pytest.raises(e2b.AuthenticationException) as caught:
        e2b.Sandbox.create()
    assert (
        str(caught.value) == "401: Unauthorized, please check your credentials. - Invalid API key"
    )


def test_create_429_once_is_retried_by_the_sdk(standin: E2BStandin, e2b: ModuleType) -> None:
    standin.faults.create_errors = [429]
    with e2b.Sandbox.create() as sandbox:
        assert sandbox.is_running() is True
    assert standin.faults.create_errors == []
    assert len(standin.history) == 1


def test_create_429_past_the_retries_raises_rate_limit_exception(
    standin: E2BStandin, e2b: ModuleType
) -> None:
    standin.faults.create_errors = [429] * 4  # the first try and the SDK's 3 retries
    with pytest.raises(e2b.RateLimitException, match=r"^429: Rate limit exceeded"):
        e2b.Sandbox.create()
    assert standin.history == []


def test_create_500_raises_sandbox_exception(standin: E2BStandin, e2b: ModuleType) -> None:
    standin.faults.create_errors = [500]
    with pytest.raises(e2b.SandboxException) as caught:
        e2b.Sandbox.create()
    assert str(caught.value) == "500: Failed to create sandbox: internal error"
    assert caught.value.status_code == 500
    assert standin.faults.create_errors == []  # not retried


def test_create_503_past_the_retries_raises_service_busy(
    standin: E2BStandin, e2b: ModuleType
) -> None:
    standin.faults.create_errors = [503] * 4
    with pytest.raises(e2b.ServiceBusyException, match=r"^503: Service temporarily unavailable"):
        e2b.Sandbox.create()


def test_create_502_past_the_retries_raises_sandbox_exception(
    standin: E2BStandin, e2b: ModuleType
) -> None:
    standin.faults.create_errors = [502] * 4
    with pytest.raises(e2b.SandboxException) as caught:
        e2b.Sandbox.create()
    assert (str(caught.value), caught.value.status_code) == ("502: Bad gateway", 502)


def test_unknown_template_gets_the_api_404(standin: E2BStandin, e2b: ModuleType) -> None:
    with pytest.raises(e2b.SandboxException) as caught:
        e2b.Sandbox.create(template="no-such-template")
    assert str(caught.value) == "404: template 'no-such-template' not found"
    assert caught.value.status_code == 404
    assert standin.history == []


def test_sandbox_dying_mid_command_answers_like_a_gone_sandbox(
    standin: E2BStandin, e2b: ModuleType
) -> None:
    standin.faults.die_on_output = "STEP 2"
    sandbox = e2b.Sandbox.create()
    with pytest.raises(e2b.SandboxNotRunningException, match="ended before the stream completed"):
        sandbox.commands.run("echo 'STEP 1'; echo 'STEP 2'; sleep 30")
    command = standin.history[0].commands[0]
    assert (standin.history[0].end_reason, command.exit_code) == ("died", None)
    assert eventually(lambda: not pid_alive(command.pid))
    assert standin.sandboxes == {}

    with pytest.raises(e2b.SandboxNotRunningException, match="was not found"):
        sandbox.files.read("anything")
    with pytest.raises(e2b.SandboxNotRunningException, match="was not found"):
        sandbox.files.write("anything", "x")
    with pytest.raises(e2b.SandboxNotRunningException, match="was not found"):
        sandbox.commands.run("true")
    assert sandbox.is_running() is False
    with pytest.raises(e2b.SandboxNotFoundException):
        sandbox.get_info()
    with pytest.raises(e2b.SandboxNotFoundException):
        sandbox.set_timeout(30)
    assert sandbox.kill() is False


def test_crash_ends_a_background_command_wait(standin: E2BStandin, e2b: ModuleType) -> None:
    sandbox = e2b.Sandbox.create()
    handle = sandbox.commands.run("sleep 30", background=True)
    # crash() from another thread while the SDK is blocked reading the output stream.
    threading.Thread(target=standin.crash, args=(sandbox.sandbox_id,)).start()
    with pytest.raises(e2b.SandboxNotRunningException):
        handle.wait()
    assert standin.history[0].end_reason == "died"


def test_output_stream_dropped_mid_command(standin: E2BStandin, e2b: ModuleType) -> None:
    standin.faults.drop_stream_on_output = "halfway"
    seen: list[str] = []
    with e2b.Sandbox.create() as sandbox:
        with pytest.raises(e2b.SandboxUnreachableException, match="state is unknown"):
            sandbox.commands.run(
                "echo halfway; sleep 0.3; echo done > finished", on_stdout=seen.append
            )
        assert seen == ["halfway\n"]
        # The connection was lost, not the command: it runs to its end, and the sandbox lives.
        command = standin.history[0].commands[0]
        assert eventually(lambda: command.exit_code == 0)
        assert sandbox.files.read("finished") == "done\n"


def test_slow_upload_past_the_request_timeout(standin: E2BStandin, e2b: ModuleType) -> None:
    standin.faults.upload_delay = 0.5
    with e2b.Sandbox.create() as sandbox:
        # The SDK lets httpx's ReadTimeout escape from files.write, not an e2b exception.
        with pytest.raises(httpx.ReadTimeout):
            sandbox.files.write("slow.txt", "x", request_timeout=0.1)
        assert sandbox.files.write("slow2.txt", "y").path == "/home/user/slow2.txt"
        standin.faults.upload_delay = 0
        assert sandbox.files.read("slow2.txt") == "y"
