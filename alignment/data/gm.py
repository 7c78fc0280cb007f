"""General MIDI level 1 program names and families, with caption-friendly names."""
from __future__ import annotations

from ..preprocess.text import article  # noqa: F401 (the corpora import it from here)

# 128 GM programs in order (program number = index), as published in the GM 1 spec.
GM_PROGRAMS = [
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone",
    "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ",
    "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
    "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar",
    "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass",
    "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2",
    "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet",
    "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax",
    "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute",
    "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)",
    "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
    "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto",
    "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock",
    "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet",
    "Telephone Ring", "Helicopter", "Applause", "Gunshot",
]
assert len(GM_PROGRAMS) == 128

GM_FAMILIES = [
    "piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive",
    "sound effects",
]

# Typical middle pitch (MIDI note) per family; low/high registers are offsets from it.
FAMILY_CENTRE = [60, 76, 60, 55, 38, 62, 60, 58, 62, 79, 67, 60, 67, 62, 60, 60]
CENTRE_OVERRIDES = {"Violin": 76, "Viola": 62, "Cello": 48, "Contrabass": 36, "Timpani": 45,
                    "Tuba": 40, "Trombone": 50, "Baritone Sax": 45, "Tenor Sax": 55,
                    "Bassoon": 46, "Piccolo": 84, "Orchestral Harp": 62, "Celesta": 79,
                    "Glockenspiel": 84, "Tubular Bells": 65, "Pizzicato Strings": 60}


def family_of(program: int) -> str:
    """GM family name of `program` (0..127)."""
    return GM_FAMILIES[program // 8]


def centre_pitch(program: int) -> int:
    """A comfortable middle MIDI note for `program`."""
    return CENTRE_OVERRIDES.get(GM_PROGRAMS[program], FAMILY_CENTRE[program // 8])


def spoken_name(program: int) -> str:
    """Caption-friendly instrument name: 'Acoustic Guitar (nylon)' -> 'nylon acoustic guitar'."""
    name = GM_PROGRAMS[program]
    base, _, paren = name.partition(" (")
    paren = paren.rstrip(")")
    words = base.lower()
    words = " ".join(w for w in words.split() if not w.isdigit())  # "Synth Bass 1" -> "synth bass"
    if paren:
        if base.startswith(("Lead", "Pad", "FX")):
            kind = {"Lead": "synth lead", "Pad": "synth pad", "FX": "synth effect"}[base.split()[0]]
            return f"{paren} {kind}"
        return f"{paren} {words}"
    return words
