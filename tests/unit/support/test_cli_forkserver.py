"""The fork server behind the integration tests' ``salt`` and ``salt-run`` (tests/support/
cli_forkserver.py): a forked command gets its own argv, environment, working directory and
output files, exits with its script's code, and a timeout leaves it to be signalled by pid."""

import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from tests.support import cli_forkserver

SCRIPT = """
import os, sys
env = os.environ.get("CHAIN_FS")
print("argv", sys.argv[1:], "cwd", os.getcwd(), "env", env, "pid", os.getpid())
sys.stderr.write("to stderr\\n")
import salt.version  # imported by the server already
sys.stdout.flush()
os._exit(int(sys.argv[1]))
"""


def _run(tmp_path, *args, env=None):
    script = tmp_path / "cli_test.py"
    script.write_text(SCRIPT if not args or args[0] != "sleep" else "import time\ntime.sleep(60)\n")
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    proc = cli_forkserver.ForkedProcess(
        [sys.executable, str(script), *args], out, err, env or {}, str(tmp_path)
    )
    return proc, out, err


def _read(fh):
    fh.seek(0)
    return fh.read().decode()


def test_a_forked_command_has_its_own_argv_env_cwd_output_and_exit_code(tmp_path):
    proc, out, err = _run(tmp_path, "3", "two words", env={"CHAIN_FS": "yes"})
    assert proc.wait(30) == 3 and proc.poll() == 3 and proc.returncode == 3
    text = _read(out)
    assert f"argv ['3', 'two words'] cwd {tmp_path} env yes" in text
    assert proc.pid != os.getpid() and f"pid {proc.pid}" in text
    assert _read(err) == "to stderr\n"
    again, out, _ = _run(tmp_path, "0")  # the environment is the call's, not the last one's
    assert again.wait(30) == 0 and "env None" in _read(out)


def test_a_timeout_leaves_the_command_running_until_it_is_killed(tmp_path):
    proc, _, _ = _run(tmp_path, "sleep")
    with pytest.raises(subprocess.TimeoutExpired):
        proc.communicate(timeout=0.3)
    assert proc.poll() is None
    os.kill(proc.pid, 0)  # alive, under the pid the test process was given
    proc.kill()
    assert proc.wait(30) == -signal.SIGKILL
    proc.kill()  # already ended: nothing to signal


def test_the_server_ends_with_its_test_process_even_killed(tmp_path):
    code = (
        "import sys, tempfile; sys.path.insert(0, '.');"
        "from tests.support import cli_forkserver as f;"
        "out = tempfile.TemporaryFile();"
        f"f.ForkedProcess([sys.executable, {str(tmp_path / 'cli_x.py')!r}], out, out, {{}}, '/')"
        ".wait(30);"
        "print(f._Server.proc.pid, flush=True);"
        "import time; time.sleep(60)"
    )
    (tmp_path / "cli_x.py").write_text("import os\nos._exit(0)\n")
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    server = int(owner.stdout.readline())
    os.kill(server, 0)
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(server, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"the fork server {server} outlived its test process")
