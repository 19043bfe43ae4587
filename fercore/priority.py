"""Background work at the lowest CPU priority, so that what people are waiting for comes first."""
import os
import threading

LOWEST = 19  # nice: such a thread gets a CPU only as far as the others leave it one


def lower_priority(thread_id: int | None = None) -> None:
    """Run a thread at the lowest CPU priority: the calling one, or the one with that native id. On Linux a
    priority belongs to each thread, and threads started afterwards by that thread inherit it; elsewhere
    nothing changes."""
    try:
        os.setpriority(os.PRIO_PROCESS, thread_id or threading.get_native_id(), LOWEST)
    except (AttributeError, OSError):  # no setpriority (Windows), not a thread id here (macOS), or it has ended
        pass
