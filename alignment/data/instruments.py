"""The `instruments` corpus: General MIDI clips rendered with fluidsynth.

For every GM program (plus a drum kit) a few short clips are planned with
varied register, tempo, dynamics and figure, written as MIDI by our own
writer, rendered by `fluidsynth` with the FluidR3 GM soundfont (Debian
package `fluid-soundfont-gm`) at 16 kHz, and captioned from the parameters:
"a violin softly playing a slow low melody".

Group = GM program, so splits hold out whole instruments: held-out clips
test whether the shared space generalises to instruments never trained on.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

from .base import Built, Log
from .gm import GM_PROGRAMS, article, centre_pitch, family_of, spoken_name
from .midi import Track
from .pairs import Pair

CLIPS_PER_PROGRAM = 5
CLIP_SECONDS = 3.0
SLOT_SECONDS = 4.0          # clip + 1 s of silence so release tails never leak
NOTES_END = 2.7             # last note-off inside the clip
SAMPLE_RATE = 16000
DRUM_PROGRAM = 128          # our id for the GM percussion channel (MIDI channel 10)

REGISTERS = {"low": -12, "middle": 0, "high": 12}
TEMPI = {"slow": 66, "moderate": 104, "fast": 160}
TEMPO_WORDS = {"slow": "slow", "moderate": "moderately paced", "fast": "fast"}
DYNAMICS = {"softly": 40, "loudly": 112}
FIGURES = ("melody", "rising scale", "falling scale", "arpeggio")
_MAJOR = [0, 2, 4, 5, 7, 9, 11]


@dataclass(frozen=True)
class ClipPlan:
    """What one clip plays; everything a caption is made from."""

    program: int
    register: str
    tempo: str
    dynamics: str
    figure: str
    seed: int

    @property
    def id(self) -> str:
        return (f"instruments/p{self.program:03d}-{self.register}-{self.tempo}-"
                f"{self.dynamics}-{self.figure.replace(' ', '_')}")

    @property
    def name(self) -> str:
        return "drum kit" if self.program == DRUM_PROGRAM else spoken_name(self.program)

    @property
    def family(self) -> str:
        return "drums" if self.program == DRUM_PROGRAM else family_of(self.program)


def plan_clips(per_program: int = CLIPS_PER_PROGRAM, programs=None) -> list[ClipPlan]:
    """Deterministic clip plans: `per_program` distinct parameter mixes each."""
    progs = list(range(128)) + [DRUM_PROGRAM] if programs is None else list(programs)
    plans = []
    for prog in progs:
        rng = random.Random(f"xmodal-gm-{prog}")
        figures = ("beat", "fill") if prog == DRUM_PROGRAM else FIGURES
        grid = [(r, t, d, f) for r in REGISTERS for t in TEMPI for d in DYNAMICS for f in figures
                if not (prog == DRUM_PROGRAM and r != "middle")]
        for k, (r, t, d, f) in enumerate(rng.sample(grid, min(per_program, len(grid)))):
            plans.append(ClipPlan(prog, r, t, d, f, seed=prog * 1000 + k))
    return plans


def captions(plan: ClipPlan) -> list[str]:
    """Captions from the plan, most specific first."""
    who = article(plan.name)
    if plan.family == "sound effects":
        return [f"the sound of {who}, {plan.tempo} and {plan.register} pitched, played {plan.dynamics}",
                f"{who} sound effect", f"the sound of {who}"]
    if plan.program == DRUM_PROGRAM:
        return [f"a drum kit {plan.dynamics} playing a {TEMPO_WORDS[plan.tempo]} {plan.figure}",
                f"{plan.tempo} drums", "the sound of a drum kit"]
    reg = "" if plan.register == "middle" else f"{plan.register} "
    return [f"{who} {plan.dynamics} playing a {TEMPO_WORDS[plan.tempo]} {reg}{plan.figure}",
            f"a {plan.tempo} {plan.register} {plan.figure} on {who}",
            f"the sound of {who}", f"{who}, a {plan.family} instrument"]


def schedule(plan: ClipPlan, track: Track, start_s: float, ticks_per_s: float) -> None:
    """Add the plan's notes to `track`, starting at `start_s` seconds."""
    rng = random.Random(plan.seed)
    beat = 60.0 / TEMPI[plan.tempo]
    vel = DYNAMICS[plan.dynamics]
    tick = lambda s: int(round((start_s + s) * ticks_per_s))  # noqa: E731
    if plan.program == DRUM_PROGRAM:
        _drums(plan, track, rng, beat, vel, tick)
        return
    track.program(tick(0), 0, plan.program)
    centre = centre_pitch(plan.program) + REGISTERS[plan.register]
    t, step = 0.05, 0
    degree = rng.randrange(7) if plan.figure == "melody" else 0
    while True:
        dur = beat * (rng.choice([0.5, 1.0, 1.0, 1.5]) if plan.figure == "melody" else 0.5)
        if t + dur * 0.9 > NOTES_END:
            break
        if plan.figure == "melody":
            degree = max(-7, min(7, degree + rng.choice([-2, -1, -1, 1, 1, 2, 0])))
        elif plan.figure == "rising scale":
            degree = step % 8
        elif plan.figure == "falling scale":
            degree = 7 - step % 8
        else:  # arpeggio: 1-3-5-8-5-3
            degree = [0, 2, 4, 7, 4, 2][step % 6]
        pitch = centre + 12 * (degree // 7) + _MAJOR[degree % 7]
        v = max(1, min(127, vel + rng.randint(-6, 6)))
        track.note(tick(t), max(1, tick(t + dur * 0.9) - tick(t)), 0, max(12, min(115, pitch)), v)
        t += dur
        step += 1


def _drums(plan: ClipPlan, track: Track, rng: random.Random, beat: float, vel: int, tick) -> None:
    """Kick/snare/hat beat, or a tom fill, on MIDI channel 10 (index 9)."""
    t, i = 0.05, 0
    while t + beat / 2 <= NOTES_END:
        if plan.figure == "beat":
            hits = [42] + ([36] if i % 4 == 0 else []) + ([38] if i % 4 == 2 else [])
        else:
            hits = [[50, 48, 47, 45, 43, 41][i % 6]] + ([49] if i % 8 == 0 else [])
        for h in hits:
            track.note(tick(t), max(1, tick(t + 0.1) - tick(t)), 9, h,
                       max(1, min(127, vel + rng.randint(-8, 8))))
        t += beat / 2
        i += 1


def caption_group(plan: ClipPlan) -> str:
    """Split group: the GM program (whole instruments are held out)."""
    return f"gm program {plan.program:03d} {plan.name}"


def plan_metadata(plan: ClipPlan) -> dict:
    """Metadata stored with each clip."""
    md = asdict(plan)
    md.update(instrument=plan.name, family=plan.family, bpm=TEMPI[plan.tempo],
              velocity=DYNAMICS[plan.dynamics], seconds=CLIP_SECONDS, sample_rate=SAMPLE_RATE,
              gm_name="Standard drum kit" if plan.program == DRUM_PROGRAM
              else GM_PROGRAMS[plan.program])
    return md


def build(root: Path, log: Log = print) -> Built:
    """Render the planned clips under `root/clips` and caption them."""
    from .render import find_soundfont, render_batches

    sf2 = find_soundfont(root, log=log)
    plans = plan_clips()
    out = Built(notes={"soundfont": str(sf2), "clips_planned": len(plans),
                       "clip_seconds": CLIP_SECONDS, "sample_rate": SAMPLE_RATE})
    rendered = render_batches(plans, root, sf2, out, log=log)
    for plan in plans:
        wav = rendered.get(plan.id)
        if wav is None:
            continue
        md = plan_metadata(plan)
        md["soundfont"] = sf2.name
        out.pairs.append(Pair(id=plan.id, modality="audio", path=str(wav.resolve()),
                              captions=captions(plan), group=caption_group(plan), metadata=md))
    return out
