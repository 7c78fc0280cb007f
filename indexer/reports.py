"""What building and updating an index report: typed results, written as
the same JSON (build-report.json, `xmodal index ... --json`) as before.

A skipped input is one JSON-able line `{"item", "reason", "stage"}`
(`Skip`): readers, the embedding stage and `add` all report that shape,
and it is what users grep in build-report.json."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .manifest import IndexStats

Skip = dict[str, str]


def skip_summary(skipped: list[Skip]) -> dict[str, int]:
    """Counts by reason, with item-specific details stripped."""
    return dict(Counter(s["reason"].split(" (")[0].split(":")[0] for s in skipped).most_common())


@dataclass
class EmbedStats:
    """The embedding stage of one build / add."""

    records: int = 0
    shards: int = 0
    shards_reused: int = 0
    embed_seconds: float = 0.0
    records_embedded: int = 0  # embedded in this run (reused shards excluded from the rate)
    records_per_second: float | None = None
    embedded_on: str = "local"  # "local", "ray (ADDRESS, N workers)" or "imported .npy vectors"


@dataclass
class BuildReport:
    """`build`'s result; `to_dict()` is build-report.json. A failed build
    has `error` and no index part (generation ... total_seconds)."""

    corpus: list[str]
    model: str
    encoder_fingerprint: str
    encoder_backend: dict[str, str]  # modality -> the backend that embedded it
    skipped: list[Skip]
    embed: EmbedStats
    error: str | None = None
    generation: int | None = None
    factory: str | None = None
    search_params: dict[str, Any] | None = None
    counts: dict[str, int] | None = None
    index_stats: IndexStats | None = None
    total_seconds: float | None = None
    up_to_date: bool = False  # an existing index of the same corpus and model: nothing published

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"corpus": self.corpus, "model": self.model,
                               "encoder_fingerprint": self.encoder_fingerprint,
                               "encoder_backend": self.encoder_backend, "skipped": self.skipped, "skipped_count": self.skipped_count,
                               "skipped_by_reason": skip_summary(self.skipped), **asdict(self.embed)}
        if self.error is not None:
            out["error"] = self.error
        if self.generation is not None:
            stats = self.index_stats.to_json() if self.index_stats else {}
            out.update({"generation": self.generation, "factory": self.factory,
                        "search_params": self.search_params, "counts": self.counts,
                        "index_stats": {k: v for k, v in stats.items() if k != "tune_trials"},
                        "total_seconds": self.total_seconds})
        if self.up_to_date:
            out["up_to_date"] = True
        return out


@dataclass
class UpdateResult:
    """A published generation: what `add`, `remove` and `compact` return."""

    generation: int
    counts: dict[str, int]
    hint: str | None = None  # e.g. "many deleted rows: run `xmodal index compact DIR`"

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "embed"}
        if self.hint is None:
            del out["hint"]
        return out


@dataclass
class AddResult(UpdateResult):
    added: int = 0  # items (captions come with them)
    vectors_added: int = 0
    replaced: int = 0
    vectors_replaced: int = 0
    skipped: list[Skip] = field(default_factory=list)
    embed: EmbedStats = field(default_factory=EmbedStats)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "skipped_by_reason": skip_summary(self.skipped), **asdict(self.embed)}


@dataclass
class RemoveResult(UpdateResult):
    removed: int = 0
    vectors_removed: int = 0
    not_found: list[str] = field(default_factory=list)


@dataclass
class CompactResult(UpdateResult):
    factory: str = ""
    search_params: dict[str, Any] = field(default_factory=dict)
    deleted_before: int = 0


@dataclass
class TagResult(UpdateResult):
    """What `xmodal tag` did: items looked at, how many got new tags, how
    many kept theirs, how many had no label over --min-score, and the items
    per best tag. `generation` is unchanged when nothing changed."""

    items: int = 0
    changed: int = 0
    unchanged: int = 0
    untagged: int = 0
    by_tag: dict[str, int] = field(default_factory=dict)
