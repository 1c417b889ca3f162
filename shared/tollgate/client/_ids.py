"""UUIDv7 (RFC 9562, section 5.7): 48 bits of Unix milliseconds, version 7, 12 bits of
``rand_a``, the variant ``10`` and 62 random bits. Python 3.11 has no ``uuid.uuid7``.

Monotonic within a process (RFC 9562 section 6.2, method 1): within one millisecond
``rand_a`` is a counter that starts at a random value below 2048 and counts up; when it would
overflow, the timestamp moves one millisecond ahead. So ids sort in the order ``new_id`` gave
them, which keeps a batch's ids in tracking order. A forked child continues from the parent's
state with its own random bits, so the two cannot collide in practice.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid

_lock = threading.Lock()
# The random bits come from a generator seeded from os.urandom, once per process (and again in a
# forked child): ids must be unique, not unguessable, and os.urandom per id released the GIL on
# every call, handing it to the flusher thread mid-request (a thread switch per tracked request).
_rng = random.Random(os.urandom(32))  # noqa: S311 - uniqueness, not secrecy (see above)
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF


def _next_stamp(now_ms: int) -> tuple[int, int]:
    global _last_ms, _counter
    with _lock:
        if now_ms > _last_ms:
            _last_ms, _counter = now_ms, _rng.getrandbits(11)
        elif _counter < _COUNTER_MAX:
            _counter += 1
        else:  # 4,096 ids in one millisecond: borrow the next one
            _last_ms, _counter = _last_ms + 1, 0
        return _last_ms, _counter


def _after_fork_in_child() -> None:
    global _lock, _rng
    _lock = threading.Lock()  # another thread may have held it at fork time
    _rng = random.Random(os.urandom(32))  # noqa: S311 - else the child would repeat the parent's bits


os.register_at_fork(after_in_child=_after_fork_in_child)


def uuid7_from_int(ms: int, rand_a: int, rand_b: int) -> int:
    """The 128-bit value of the UUIDv7 of these fields (each masked to its width)."""
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76 | (rand_a & 0xFFF) << 64
    return value | 0b10 << 62 | (rand_b & 0x3FFF_FFFF_FFFF_FFFF)


def uuid7_from(ms: int, rand_a: int, rand_b: int) -> uuid.UUID:
    """The UUIDv7 of these fields (each masked to its width)."""
    return uuid.UUID(int=uuid7_from_int(ms, rand_a, rand_b))


def new_id() -> str:
    """A new UUIDv7, as its canonical 36-character text."""
    ms, counter = _next_stamp(time.time_ns() // 1_000_000)
    hex_ = f"{uuid7_from_int(ms, counter, _rng.getrandbits(62)):032x}"
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"  # str(UUID) costs twice as much
