"""MIDI writer, clip plans and captions; one real fluidsynth render (slow)."""
import shutil
import struct
from collections import Counter

import pytest

from xmodal.alignment.data.base import Built
from xmodal.alignment.data.instruments import (DRUM_PROGRAM, captions, caption_group, plan_clips,
                                               schedule)
from xmodal.alignment.data.midi import Track, midi_bytes, vlq
from xmodal.alignment.data.render import SYSTEM_SF2, batch_midi


def parse_smf(data: bytes):
    """Independent reader for format-0 files: header fields + decoded events."""
    assert data[:4] == b"MThd"
    hlen, fmt, ntrk, div = struct.unpack(">IHHH", data[4:14])
    assert data[14:18] == b"MTrk"
    (tlen,) = struct.unpack(">I", data[18:22])
    body, i, t, events = data[22:22 + tlen], 0, 0, []
    assert len(body) == tlen
    while i < len(body):
        delta = 0
        while True:
            b = body[i]; i += 1
            delta = (delta << 7) | (b & 0x7F)
            if not b & 0x80:
                break
        t += delta
        st = body[i]
        if st == 0xFF:
            kind, ln = body[i + 1], body[i + 2]
            events.append((t, "meta", kind, body[i + 3:i + 3 + ln])); i += 3 + ln
        elif st & 0xF0 in (0x80, 0x90, 0xB0):
            events.append((t, st & 0xF0, st & 0x0F, body[i + 1], body[i + 2])); i += 3
        elif st & 0xF0 == 0xC0:
            events.append((t, 0xC0, st & 0x0F, body[i + 1])); i += 2
        else:
            raise AssertionError(f"unexpected status {st:#x}")
    return (hlen, fmt, ntrk, div), events


def test_vlq_known_values():
    # Examples from the Standard MIDI File spec.
    assert vlq(0) == b"\x00" and vlq(0x40) == b"\x40" and vlq(0x7F) == b"\x7f"
    assert vlq(0x80) == b"\x81\x00" and vlq(0x2000) == b"\xc0\x00"
    assert vlq(0x3FFF) == b"\xff\x7f" and vlq(0x0FFFFFFF) == b"\xff\xff\xff\x7f"


def test_midi_file_structure_and_events():
    tr = Track()
    tr.tempo(0, 120)
    tr.program(0, 0, 40)
    tr.note(0, 480, 0, 60, 100)
    tr.note(480, 240, 0, 64, 90)
    (hlen, fmt, ntrk, div), ev = parse_smf(midi_bytes(tr))
    assert (hlen, fmt, ntrk, div) == (6, 0, 1, 480)
    assert ev[0] == (0, "meta", 0x51, (500000).to_bytes(3, "big"))
    notes_on = [(e[0], e[3], e[4]) for e in ev if e[1] == 0x90]
    notes_off = [(e[0], e[3]) for e in ev if e[1] == 0x80]
    assert notes_on == [(0, 60, 100), (480, 64, 90)]
    assert notes_off == [(480, 60), (720, 64)]
    # note-off of the first note precedes the next note-on at the same tick
    assert [e[1] for e in ev if e[0] == 480][:2] == [0x80, 0x90]
    assert ev[-1][1:3] == ("meta", 0x2F)
    with pytest.raises(ValueError):
        tr.note(0, 10, 0, 128, 1)


def test_plans_are_deterministic_distinct_and_cover_all_programs():
    a, b = plan_clips(), plan_clips()
    assert a == b and len({p.id for p in a}) == len(a) == 129 * 5
    assert Counter(p.program for p in a) == {p: 5 for p in list(range(128)) + [DRUM_PROGRAM]}


def test_captions_follow_parameters():
    p = next(p for p in plan_clips(programs=[40]))
    cap = captions(p)[0]
    assert cap.startswith("a violin ") and p.dynamics in cap and p.figure in cap
    if p.register != "middle":
        assert p.register in cap
    assert caption_group(p) == "gm program 040 violin"
    drum = plan_clips(programs=[DRUM_PROGRAM])[0]
    assert captions(drum)[0].startswith("a drum kit")


def test_schedule_stays_inside_the_clip_and_the_register():
    for p in plan_clips(programs=[0, 33, 73]):
        tr = Track()
        schedule(p, tr, 0.0, 960)
        _, ev = parse_smf(midi_bytes(tr))
        ons = [e for e in ev if e[1] == 0x90]
        assert ons and max(e[0] for e in ev if e[1] == 0x80) <= 2.7 * 960 + 1
        pitches = [e[3] for e in ons]
        assert max(pitches) - min(pitches) <= 24


@pytest.mark.slow
def test_fluidsynth_renders_two_clips(tmp_path):
    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth binary not installed (apt-get install fluidsynth)")
    if not SYSTEM_SF2.exists():
        pytest.skip(f"{SYSTEM_SF2} missing (apt-get install fluid-soundfont-gm)")
    import numpy as np
    import soundfile as sf

    from xmodal.alignment.data.render import render_batches

    plans = plan_clips(per_program=1, programs=[40, DRUM_PROGRAM])
    out = Built()
    got = render_batches(plans, tmp_path, SYSTEM_SF2, out, log=lambda m: None)
    assert set(got) == {p.id for p in plans} and not out.skipped
    for wav in got.values():
        audio, sr = sf.read(wav)
        assert sr == 16000 and audio.shape == (48000,)
        assert np.abs(audio).max() > 1e-3                 # audible
        assert np.abs(audio[-800:]).max() < 0.05 * np.abs(audio).max()  # cut off before the end
    assert len(batch_midi(plans).events) > 10
