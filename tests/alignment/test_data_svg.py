"""Safe SVG metadata parsing and openclipart caption rules."""
from pathlib import Path

import pytest
from PIL import Image

from xmodal.alignment.data import openclipart as oc
from xmodal.alignment.data.svgmeta import SvgMeta, meta_from_root, parse_svg_bytes, read_svg_meta
from xmodal.alignment.core.errors import BadInput


def svg_doc(title="A red apple", desc="A shiny red apple.", keywords=("fruit", "apple"),
            doctype=""):
    lis = "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords)
    return f"""<?xml version="1.0"?>{doctype}
<svg xmlns="http://www.w3.org/2000/svg" xmlns:cc="http://web.resource.org/cc/"
     xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
 <metadata><rdf:RDF><cc:Work rdf:about="">
  <dc:title>{title}</dc:title><dc:description>{desc}</dc:description>
  <dc:subject><rdf:Bag>{lis}</rdf:Bag></dc:subject>
  <dc:publisher><cc:Agent><dc:title>Open Clip Art Library</dc:title></cc:Agent></dc:publisher>
  <dc:creator><cc:Agent><dc:title>Jane Doe</dc:title></cc:Agent></dc:creator>
 </cc:Work></rdf:RDF></metadata><rect width="1" height="1"/></svg>"""


def test_reads_title_description_keywords(tmp_path):
    p = tmp_path / "a.svg"
    p.write_text(svg_doc())
    m = read_svg_meta(p)
    assert (m.title, m.description, m.keywords, m.creator) == (
        "A red apple", "A shiny red apple.", ["fruit", "apple"], "Jane Doe")


def test_entities_are_never_expanded():
    bomb = ('<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>')
    doc = svg_doc(title="&b;", doctype=bomb).encode()
    with pytest.raises(BadInput, match="unreadable SVG"):
        parse_svg_bytes(doc, "bomb.svg")


def test_unused_doctype_is_cut_and_file_still_parses():
    # Adobe Illustrator exports declare namespace entities they never use in metadata.
    dt = '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.0//EN" "x.dtd" [<!ENTITY ns_svg "http://www.w3.org/2000/svg">]>'
    root = parse_svg_bytes(svg_doc(doctype=dt).encode(), "ai.svg")
    assert meta_from_root(root).title == "A red apple"


def test_garbage_is_bad_input():
    with pytest.raises(BadInput, match="garbage.svg"):
        parse_svg_bytes(b"<svg><unclosed></svg>", "garbage.svg")


def test_generic_titles_are_not_primary():
    metas = {Path(f"x/{i}.png"): SvgMeta(title="Lemon SVG theme", description="",
                                         keywords=["folder", "hash"]) for i in range(5)}
    metas[Path("x/own.png")] = SvgMeta(title="Blue bird", keywords=["bird"])
    generic, counts = oc.generic_strings(metas, limit=3)
    assert generic == {"lemon svg theme"}
    caps, how = oc.build_captions(metas[Path("x/0.png")], ["animals", "birds"], generic)
    assert caps == ["clip art of folder", "clip art: animals > birds"]  # 'hash' is junk
    assert how["title_generic"] and "title" not in how["caption_sources"]
    caps, how = oc.build_captions(metas[Path("x/0.png")], ["animals"], generic, "aiga_departing_flights1")
    assert caps[0] == "aiga departing flights" and how["caption_sources"][0] == "file name"
    assert oc.name_from_stem("sm_006") == ""  # no real word: keywords stay primary
    caps, how = oc.build_captions(metas[Path("x/own.png")], ["animals"], generic)
    assert caps[0] == "Blue bird" and not how["title_generic"]


def test_cleaning_rules():
    assert oc.clean_title("Clipart by Nicu Buculei - arrow08_4") == "arrow08 4"
    assert oc.clean_description("jean.victor.balin@gmail.com", "x") == ""
    assert oc.clean_description("Saturn", "saturn") == ""
    assert oc.clean_keywords(["Unsorted", "", "7", "Moon", "moon", "space_art"]) == ["moon", "space art"]


def _png(path: Path, size=(4, 3)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (255, 0, 0)).save(path)


def test_build_from_dirs_matches_png_and_svg_by_path(tmp_path):
    svg, png = tmp_path / "svg", tmp_path / "png"
    for i in range(3):  # a 3-times repeated collection title, limit 2 -> generic
        (svg / "food").mkdir(parents=True, exist_ok=True)
        (svg / "food" / f"c.{i}.svg").write_text(svg_doc(title="Collection", desc="",
                                                         keywords=(f"pear{i}",)))
        _png(png / "food" / f"c.{i}.png")
    (svg / "food" / "apple.svg").write_text(svg_doc())
    _png(png / "food" / "apple.png")
    _png(png / "food" / "orphan.png")                      # no SVG -> skipped
    (svg / "food" / "broken.svg").write_text("<svg><oops")   # broken SVG -> skipped
    _png(png / "food" / "broken.png")
    (svg / "food" / "lonely.svg").write_text(svg_doc())      # no PNG -> skipped
    (svg / "food" / "bad.svg").write_text(svg_doc())
    (png / "food" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")  # corrupt PNG
    built = oc.build_from_dirs(svg, png, tmp_path / "out", log=lambda m: None, repeat_limit=2)
    ids = sorted(p.id for p in built.pairs)
    assert ids == ["openclipart/food/apple", "openclipart/food/c.0", "openclipart/food/c.1",
                   "openclipart/food/c.2"]
    apple = next(p for p in built.pairs if p.id.endswith("apple"))
    assert apple.captions[:2] == ["A red apple", "A shiny red apple."]
    assert apple.group == "a red apple" and Path(apple.path).is_absolute()
    coll = next(p for p in built.pairs if p.id.endswith("c.1"))
    assert coll.captions[0] == "clip art of pear1" and coll.metadata["title_generic"]
    reasons = {Path(s["item"]).name: s["reason"] for s in built.skipped}
    assert set(reasons) == {"orphan.png", "broken.png", "lonely.svg", "bad.png"}
    assert "unreadable image" in reasons["bad.png"]
    assert built.notes["generic_titles"] == [("collection", 3)]
