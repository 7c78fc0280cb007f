"""A minimal Standard MIDI File writer (format 0, one track), no dependencies.

Enough to describe short clips for fluidsynth: tempo, program changes,
notes with velocities, and controller events.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

TICKS_PER_BEAT = 480


def vlq(n: int) -> bytes:
    """MIDI variable-length quantity (7 bits per byte, high bit = more)."""
    if n < 0:
        raise ValueError("delta time must be >= 0")
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


@dataclass
class Track:
    """Absolute-time events on one track; times in ticks."""

    events: list[tuple[int, int, bytes]] = field(default_factory=list)  # (tick, order, data)

    def _add(self, tick: int, data: bytes, order: int = 1) -> None:
        if tick < 0:
            raise ValueError("event time must be >= 0")
        self.events.append((int(tick), order, data))

    def tempo(self, tick: int, bpm: float) -> None:
        us = int(round(60_000_000 / bpm))
        self._add(tick, b"\xff\x51\x03" + us.to_bytes(3, "big"), order=0)

    def program(self, tick: int, channel: int, program: int) -> None:
        self._add(tick, bytes([0xC0 | _ch(channel), _7(program)]), order=0)

    def control(self, tick: int, channel: int, controller: int, value: int) -> None:
        self._add(tick, bytes([0xB0 | _ch(channel), _7(controller), _7(value)]), order=0)

    def note(self, tick: int, duration: int, channel: int, pitch: int, velocity: int) -> None:
        """Note-on at `tick`, note-off `duration` ticks later."""
        if duration <= 0:
            raise ValueError("note duration must be > 0")
        self._add(tick, bytes([0x90 | _ch(channel), _7(pitch), max(1, _7(velocity))]), order=2)
        # note-offs sort before note-ons at the same tick (order 1 < 2)
        self._add(tick + duration, bytes([0x80 | _ch(channel), _7(pitch), 0]), order=1)

    def to_bytes(self) -> bytes:
        body = bytearray()
        last = 0
        for tick, _, data in sorted(self.events, key=lambda e: (e[0], e[1])):
            body += vlq(tick - last) + data
            last = tick
        body += vlq(0) + b"\xff\x2f\x00"  # end of track
        return b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def _ch(c: int) -> int:
    if not 0 <= c <= 15:
        raise ValueError(f"MIDI channel {c} out of range 0..15")
    return c


def _7(v: int) -> int:
    if not 0 <= v <= 127:
        raise ValueError(f"MIDI data byte {v} out of range 0..127")
    return v


def midi_bytes(track: Track, ticks_per_beat: int = TICKS_PER_BEAT) -> bytes:
    """A complete format-0 Standard MIDI File holding `track`."""
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks_per_beat)
    return header + track.to_bytes()


def write_midi(path: Path, track: Track, ticks_per_beat: int = TICKS_PER_BEAT) -> None:
    """Write `track` as a .mid file."""
    Path(path).write_bytes(midi_bytes(track, ticks_per_beat))
