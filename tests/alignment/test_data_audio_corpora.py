"""freedesktop and speech corpora: captions, determinism, skips."""
import shutil

import numpy as np
import pytest
import soundfile as sf

from xmodal.alignment.data import freedesktop, speech
from xmodal.alignment.data.base import Built


def test_freedesktop_captions_from_names():
    assert freedesktop.captions_for("dialog-warning")[0] == "a dialog warning sound"
    assert freedesktop.captions_for("alarm-clock-elapsed")[0] == "an alarm clock elapsed sound"
    assert freedesktop.captions_for("audio-channel-front-left")[0] == 'a voice saying "front left"'


def test_freedesktop_build_skips_bad_sounds(tmp_path):
    t = np.linspace(0, 0.2, 3200, endpoint=False)
    sf.write(tmp_path / "bell.wav", 0.5 * np.sin(2 * np.pi * 880 * t), 16000)
    sf.write(tmp_path / "quiet.wav", np.zeros(3200), 16000)
    (tmp_path / "broken.oga").write_bytes(b"\x00" * 100)
    out = freedesktop.build_from_dir(tmp_path)
    assert [p.id for p in out.pairs] == ["freedesktop/bell"]
    assert out.pairs[0].captions[0] == "a bell sound" and out.pairs[0].group == "bell"
    assert sorted(s["item"].rsplit("/", 1)[1] for s in out.skipped) == ["broken.oga", "quiet.wav"]


def test_voice_plan_is_deterministic_and_varies():
    assert speech.voice_plan("A frog.", 0) == speech.voice_plan("A frog.", 0)
    plans = {speech.voice_plan(f"text {i}", 0) for i in range(50)}
    assert len(plans) > 5 and all(v in speech.VOICES and s in speech.SPEEDS for v, s in plans)
    assert speech.spoken_captions("A frog.") == ["A frog", 'a voice saying "A frog"']


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_renditions_share_the_caption_group(tmp_path):
    out = Built()
    pairs = speech.synthesise(["A red bicycle.", "-v is not an option"], tmp_path, out,
                              log=lambda m: None)
    assert not out.skipped and len(pairs) == 2 * speech.RENDITIONS
    bike = [p for p in pairs if p.metadata["text"] == "A red bicycle."]
    assert {p.group for p in bike} == {"a red bicycle"}
    for p in pairs:
        audio, sr = sf.read(p.path)
        assert sr > 8000 and len(audio) > 0.3 * sr and np.abs(audio).max() > 0.01
