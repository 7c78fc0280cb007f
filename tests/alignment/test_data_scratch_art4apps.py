"""scratch and art4apps corpora: captions from file names, skips, groups."""
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from xmodal.alignment.data import art4apps, scratch
from xmodal.alignment.data.names import words_of


@pytest.mark.parametrize("stem,words", [("boy4-walking-b", "boy walking"), ("HorseGallop", "horse gallop"),
                                        ("cat1-a", "cat"), ("fire-hydrant", "fire hydrant"),
                                        ("Dog1", "dog"), ("fruit_platter", "fruit platter")])
def test_words_of_names(stem, words):
    assert words_of(stem) == words


def _png(path, size=(20, 12)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", size, (200, 30, 30, 255)).save(path)


def test_scratch_media_library(tmp_path):
    _png(tmp_path / "Costumes/Animals/cat1-a.png")
    _png(tmp_path / "Costumes/Animals/cat1-b.png")
    _png(tmp_path / "Costumes/Letters/bubbles/A.png")           # letter glyphs: left out
    _png(tmp_path / "Backgrounds/Nature/beach-malibu.png")
    (tmp_path / "Costumes/Things").mkdir(parents=True)
    (tmp_path / "Costumes/Things/broken.gif").write_bytes(b"GIF89a\x00")
    (tmp_path / "Sounds/Animal").mkdir(parents=True)
    t = np.linspace(0, 0.3, 4800, endpoint=False)
    sf.write(tmp_path / "Sounds/Animal/HorseGallop.wav", 0.5 * np.sin(2 * np.pi * 300 * t), 16000)
    sf.write(tmp_path / "Sounds/Animal/Quiet.wav", np.zeros(4800), 16000)
    out = scratch.build_from_dir(tmp_path)
    by_id = {p.id: p for p in out.pairs}
    assert set(by_id) == {"scratch/Costumes/Animals/cat1-a", "scratch/Costumes/Animals/cat1-b",
                          "scratch/Backgrounds/Nature/beach-malibu", "scratch/Sounds/Animal/HorseGallop"}
    cat_a, cat_b = by_id["scratch/Costumes/Animals/cat1-a"], by_id["scratch/Costumes/Animals/cat1-b"]
    assert cat_a.captions[0] == "a cat" and "an animal" in cat_a.captions[-1]
    assert cat_a.group == cat_b.group                         # frames of one sprite never straddle splits
    assert by_id["scratch/Backgrounds/Nature/beach-malibu"].captions[0] == "a picture of a beach malibu"
    horse = by_id["scratch/Sounds/Animal/HorseGallop"]
    assert horse.modality == "audio" and horse.captions[0] == "a horse gallop sound"
    assert sorted(s["item"].rsplit("/", 1)[1] for s in out.skipped) == ["Quiet.wav", "broken.gif"]


def test_art4apps_pictures(tmp_path):
    _png(tmp_path / "animals/giraffe.png")
    _png(tmp_path / "actions/climb.png")
    (tmp_path / "food").mkdir()
    (tmp_path / "food/bread.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    out = art4apps.build_from_dir(tmp_path)
    caps = {p.id: p.captions for p in out.pairs}
    assert caps["art4apps/animals/giraffe"][0] == "a picture of a giraffe"
    assert caps["art4apps/actions/climb"][0] == "a picture of someone who can climb"
    assert [s["item"].rsplit("/", 1)[1] for s in out.skipped] == ["bread.jpg"]
