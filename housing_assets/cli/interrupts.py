"""Ctrl-C stops this command, not the helper processes a run starts.

A terminal sends Ctrl-C's SIGINT to every process of its foreground group. Dagster mirrors a
step's output through `tail` and a watcher script it starts for each step; the watcher, a Python
program, dies of the SIGINT with a `KeyboardInterrupt` traceback of its own, printed under the
one line the command promises. A blocked signal stays blocked across fork and exec, so while
this command works SIGINT is blocked in its threads (and so in every child it starts) and taken
by one relay thread, which passes it to the main thread as a signal the children never receive.
The main thread then meets Ctrl-C as before: the SIGINT handler in force is called (Python's
`KeyboardInterrupt`, or Dagster's own while it defers interrupts), a blocking call in progress is
interrupted. The helpers end as Dagster ends them, with SIGTERM, quietly.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

RELAY = signal.SIGUSR2  # what the main thread is sent in SIGINT's place


@contextmanager
def ctrl_c_for_this_process() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are the main thread's business; nothing to relay from here
        return
    main = threading.get_ident()
    done = threading.Event()

    def relay() -> None:
        while True:
            signal.sigwait({signal.SIGINT})
            if done.is_set():
                return
            signal.pthread_kill(main, RELAY)

    def as_sigint(_signum, frame) -> None:
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)

    previous = signal.signal(RELAY, as_sigint)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    thread = threading.Thread(target=relay, name="ctrl-c-relay", daemon=True)
    thread.start()  # inherits the block: sigwait takes what the kernel holds for the process
    try:
        yield
    finally:
        done.set()
        if thread.ident is not None:  # started, so it has one
            signal.pthread_kill(thread.ident, signal.SIGINT)
        thread.join()
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(RELAY, previous)
