"""Tux Paint stamp parsing: descriptions, sounds, triples, skips."""
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

from xmodal.alignment.data.splits import assign, check_disjoint
from xmodal.alignment.data.tuxpaint import (Rasteriser, build_from_dir, english_description,
                                            triples_of)


def test_english_description_skips_translations():
    txt = "de.utf8=Ein Frosch.\nA frog.\nfr.utf8=Une grenouille.\n"
    assert english_description(txt) == "A frog."
    assert english_description("pt_BR.utf8=Um sapo.\nsr@latin.utf8=Zaba.\n") == ""


def _stamp(d: Path, name: str, caption: str | None, png=True, sound=None, svg=False):
    d.mkdir(parents=True, exist_ok=True)
    if caption is not None:
        (d / f"{name}.txt").write_text(f"{caption}\nfr.utf8=Traduction.\n")
    if png:
        Image.new("RGBA", (8, 6), (0, 255, 0, 255)).save(d / f"{name}.png")
    if svg:
        (d / f"{name}.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    if sound == "ok":
        t = np.linspace(0, 0.5, 8000, endpoint=False)
        sf.write(d / f"{name}.ogg", 0.3 * np.sin(2 * np.pi * 440 * t), 16000)
    elif sound == "silent":
        sf.write(d / f"{name}.wav", np.zeros(8000), 16000)
    elif sound == "corrupt":
        (d / f"{name}.ogg").write_bytes(b"OggS not really")


def test_build_items_triples_and_skips(tmp_path):
    stamps = tmp_path / "stamps"
    _stamp(stamps / "animals", "frog", "A frog.", sound="ok")
    _stamp(stamps / "animals", "frog2", "A frog.")                  # same caption, same group
    _stamp(stamps / "animals", "cow", "A cow.", sound="silent")
    _stamp(stamps / "animals", "dog", "A dog.", sound="corrupt")
    _stamp(stamps / "food", "pear", "A pear.", png=False, svg=True)  # SVG only, no rasteriser
    _stamp(stamps / "food", "pear_mirror", None)                     # picture without .txt
    _stamp(stamps / "food", "gift", "A gift.", png=False, sound="ok")  # sound, no picture
    out = build_from_dir(stamps, tmp_path / "out", Rasteriser(None, "no rasteriser here"),
                         log=lambda m: None)
    ids = sorted(p.id for p in out.pairs)
    assert ids == ["tuxpaint/animals/cow#image", "tuxpaint/animals/dog#image",
                   "tuxpaint/animals/frog#image", "tuxpaint/animals/frog#sound",
                   "tuxpaint/animals/frog2#image", "tuxpaint/food/gift#sound"]
    frog_img = next(p for p in out.pairs if p.id.endswith("frog#image"))
    frog_snd = next(p for p in out.pairs if p.id.endswith("frog#sound"))
    assert frog_img.captions[0] == frog_snd.captions[0] == "A frog."
    assert frog_img.group == frog_snd.group == "a frog"
    assert frog_snd.metadata["seconds"] == 0.5 and frog_snd.modality == "audio"
    assert triples_of(out.pairs) == [{"stamp": "tuxpaint/animals/frog", "group": "a frog",
                                      "caption": "A frog.", "image_id": "tuxpaint/animals/frog#image",
                                      "audio_id": "tuxpaint/animals/frog#sound"}]
    reasons = {Path(s["item"]).name: s["reason"] for s in out.skipped}
    assert "silent" in reasons["cow.wav"] and "unreadable audio" in reasons["dog.ogg"]
    assert "SVG-only stamp: no rasteriser here" in reasons["pear.svg"]
    assert "no description" in reasons["pear_mirror.png"]
    assert "no picture" in reasons["gift.txt"]
    check_disjoint(assign(out.pairs))  # triples never straddle splits
