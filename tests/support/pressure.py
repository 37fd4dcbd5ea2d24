"""CPU pressure of a test's own: ``processes`` busy loops that end by themselves after
``seconds`` (bounded even if the test dies), stopped by their PID when the block ends. What a
loaded 2-core CI machine does to health probes (a probe times out now and then), on demand."""

import contextlib
import subprocess
import sys

_LOOP = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


@contextlib.contextmanager
def cpu_busy(processes=2, seconds=30):
    """Run ``processes`` busy loops of at most ``seconds`` seconds each while the block runs;
    yields their PIDs."""
    procs = [
        subprocess.Popen([sys.executable, "-c", _LOOP.format(seconds=float(seconds))])
        for _ in range(processes)
    ]
    try:
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()  # by its PID: only what this block started
            proc.wait()
