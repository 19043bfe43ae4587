"""Background work at the lowest CPU priority, so that what people are waiting for comes first."""
import os
import threading

LOWEST = 19  # nice: such a thread gets a CPU only as far as the others leave it one


def lower_priority(thread_id: int | None = None) -> None:
    """Run a thread at the lowest CPU priority: the calling one, or the one with that native id. On Linux a
    priority belongs to each thread, and threads and processes it starts afterwards inherit it: its policy
    becomes SCHED_IDLE, so that any other thread that wakes takes the CPU from it at once. Elsewhere nothing
    changes."""
    thread_id = thread_id or threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread_id, LOWEST)
        os.sched_setscheduler(thread_id, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # no such calls (Windows, macOS), or the thread has ended
        pass
