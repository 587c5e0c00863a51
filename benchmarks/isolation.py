"""Each implementation of a case in a process of its own, as users run them.

A user's script imports sorix or PyTorch, not both, and what one library
does to the process changes the other's times. The clearest case: glibc
returns large freed blocks to the operating system unless other allocations
keep its heap large, so a fresh 16 MB array costs page faults and zeroing
in a process that holds only sorix and none beside PyTorch and NumPy's
reference code. A LayerNorm step timed 1.9 ms in one shared process and
3.7 ms in a script of its own, before sorix recycled those blocks.

:class:`Isolated` starts ``python isolation.py CASE IMPL``, which builds the
step (validated and warmed, see cases.py) and then times ``count`` calls
whenever asked; the parent interleaves the workers' samples round-robin as
it does local steps (:func:`cases.interleaved_samples`). Requests and
replies are JSON lines on the worker's stdin and on a copy of its stdout;
everything the worker itself prints goes to stderr.

It is compare.py's ``--isolated`` mode, not its default: on a 2-core machine
the threaded cases swung more from run to run this way (one full run put
matmul 512 at 2.1 times PyTorch's time, against 0.85 to 0.9 in one process,
and a memory floor at 4 times its usual time), for reasons not yet found.
"""
import gc
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class ThreadedShare:
    """Counts, while active, sorix's kernel launches large enough for threads and how many
    of them took the threaded build. Each launch chooses by size and by how busy the
    cores are (sorix.kernels.threads), so a case run beside other work may time the
    serial build where a user's quiet script gets the threaded one: the table says which.
    (An optimizer update also runs serial where its serial build measured faster:
    sorix.kernels.variants.run_measured.)"""

    def __init__(self):
        self.large = self.threaded = 0

    def __enter__(self):
        from sorix import config
        from sorix.kernels import threads
        self._threads, self._use = threads, threads.use

        def counted(n, threshold=None):
            chosen = self._use(n, threshold)
            if n >= (config.PARALLEL_THRESHOLD if threshold is None else threshold):
                self.large += 1
                self.threaded += bool(chosen)
            return chosen

        def measured_serial():  # threads were allowed, but the measured choice is serial
            self.threaded -= 1

        from sorix.kernels import variants
        self._variants, self._hook = variants, variants.ran_serial_by_measurement
        threads.use = counted
        variants.ran_serial_by_measurement = measured_serial
        return self

    def __exit__(self, *exc):
        self._threads.use = self._use
        self._variants.ran_serial_by_measurement = self._hook

    def describe(self):
        return "n/a" if not self.large else f"{100 * self.threaded / self.large:.0f}%"


def timed_calls(step, count):
    """Seconds for ``count`` calls of ``step``, the garbage collector off (as timeit)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(count):
            step()
        return time.perf_counter() - start
    finally:
        gc.enable()


class Isolated:
    """One implementation of one case, built and timed in a worker process.

    ``status`` is "ready", or "unavailable"/"not applicable" with ``why`` (the worker
    has then exited). Start several before waiting on any: they build side by side.
    """

    #: Seconds between a sample and the next implementation's, for the machine to settle
    SETTLE_S = 0.05

    def __init__(self, case, impl):
        self.case, self.impl = case, impl
        self._process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "isolation.py"), case, impl],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._status = None

    def _ask(self, request):
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        return self._reply()

    def _reply(self):
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.impl} worker for {self.case!r} stopped "
                               f"(exit status {self._process.wait()}; its stderr is above)")
        return json.loads(line)

    def ready(self):
        """Wait for the build; True when the step can be timed (the worker is then
        paused until its first sample)."""
        if self._status is None:
            self._status = self._reply()
            if self._status["status"] == "ready":
                self._pause()
        return self._status["status"] == "ready"

    # A worker is paused (SIGSTOP) while the others take their samples. Idle is not
    # enough: PyTorch's OpenMP threads, for one, keep a core busy after their work,
    # and with a PyTorch worker alive the memory floor's threaded pass took 152 µs
    # instead of 81 µs (SGD 1e6 on 2 cores). A user's script has the machine alone.
    def _pause(self):
        if hasattr(signal, "SIGSTOP"):
            os.kill(self._process.pid, signal.SIGSTOP)

    def _resume(self):
        if hasattr(signal, "SIGCONT"):
            os.kill(self._process.pid, signal.SIGCONT)

    @property
    def why(self):
        return self._status.get("why", "")

    @property
    def status(self):
        return self._status["status"]

    def sample(self, count):
        self._resume()
        try:
            return self._ask({"calls": count})["seconds"]
        finally:
            self._pause()
            time.sleep(self.SETTLE_S)

    def threaded_share(self):
        self._resume()
        try:
            return self._ask({"share": True})["share"]
        finally:
            self._pause()

    def close(self):
        if self._process.poll() is None:
            self._resume()
            self._process.stdin.close()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def _look_at_the_cores_now():
    """Let sorix count the free cores over the quiet moment before a sample, as in a
    script that has the machine alone. Its count spans up to
    ``config.LOAD_CHECK_INTERVAL`` seconds, which would otherwise include the other
    workers' samples and leave sorix serial on cores that are free while it runs."""
    from sorix.kernels import threads
    threads._sample(time.monotonic())
    time.sleep(QUIET_S)
    threads._sample(time.monotonic())


#: Seconds of the quiet moment over which sorix counts free cores before a sample
QUIET_S = 0.05


def _serve(case, impl, replies):
    from benchmarks import cases

    def reply(message):
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    try:
        step = cases.build(case, impl)
    except cases.NotApplicable as why:
        return reply({"status": "not applicable", "why": str(why)})
    except cases.Unavailable as why:
        return reply({"status": "unavailable", "why": str(why)})
    reply({"status": "ready"})
    share = ThreadedShare() if impl == "sorix" else None
    if share is not None:
        share.__enter__()
    for line in sys.stdin:
        request = json.loads(line)
        if "calls" in request:
            if share is not None:
                _look_at_the_cores_now()
            reply({"seconds": timed_calls(step, request["calls"])})
        elif "share" in request:
            reply({"share": share.describe() if share is not None else "n/a"})


def main(case, impl):
    # the replies keep stdout's file; whatever the case prints goes to stderr instead
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    from asv_package import register  # (this folder is sys.path[0])
    register()
    _serve(case, impl, replies)


if __name__ == "__main__":
    main(*sys.argv[1:3])
