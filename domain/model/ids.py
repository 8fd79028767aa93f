"""Identifiers: time-ordered UUIDs, so that keyset pagination by id follows creation order."""

from __future__ import annotations

import secrets
import threading
import time
import uuid

_MAX_COUNTER = 0xFFF
_lock = threading.Lock()
_last_millis = 0
_counter = 0


def new_id() -> uuid.UUID:
    """A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter, random bits.

    Within one process ids strictly increase, even for ids made in the same millisecond
    (RFC 9562 §6.2, method 1: the counter lives in ``rand_a`` and starts at a random value
    with headroom; on overflow the timestamp moves one millisecond ahead).
    """
    global _last_millis, _counter
    with _lock:
        millis = time.time_ns() // 1_000_000
        if millis > _last_millis:
            _last_millis, _counter = millis, secrets.randbits(10)
        else:
            _counter += 1
            if _counter > _MAX_COUNTER:
                _last_millis, _counter = _last_millis + 1, 0
        millis, counter = _last_millis, _counter
    value = (millis & (2**48 - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return uuid.UUID(int=value)
