"""Embedding stage on Ray: the same shards the local build writes, from an
actor pool of encoders.

The driver reads the corpus with the ordinary readers (listing files, parsing
manifests and tar indexes: cheap, deterministic) and cuts the record stream
into the same shards `embed.embed_to_shards` would, with the same names and
record hashes. Shards a previous run finished are reused; the rest become a
Ray Data dataset, one row per shard, partitioned into blocks; `map_batches`
runs them through a pool of `ShardEmbedder` actors (one encoder load per
actor, `num_gpus` per actor on CUDA) which read and decode the media,
embed with `embed.embed_records` (the function the local build calls) and
write the finished shard. Ray Data restarts a killed actor and retries its
block; a killed driver loses only shards not yet finished, so a rerun of
the same command re-embeds nothing that was done. The output folder must
be visible to every worker (local disk for `--ray auto`, shared storage on
a cluster), as the media files already must be.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Iterator

from xmodal.alignment.core.errors import XmodalError
from xmodal.alignment.core.items import Record
from xmodal.alignment.core.protocols import Embedder
from xmodal.alignment.pipeline import chunked

from .embed import EmbedSettings, embed_records
from .shards import Shard, is_finished, records_hash, write_shard

ShardHook = Callable[[int, str, bool, int], None]


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run: `address` is 'auto' (start a local
    cluster), 'ray://host:port' or a cluster address; `workers` encoder
    actors; `cpus_per_worker` threads each; `device` 'cpu' or 'cuda[:N]'
    (one GPU per actor), `backend`/`precision` as `index build` takes them
    (None: the worker's environment, else auto), for each actor's encoder."""

    address: str = "auto"
    workers: int = 2
    cpus_per_worker: int = 1
    device: str = "cpu"
    backend: str | None = None
    precision: str | None = None


def require_ray() -> Any:
    """Import Ray, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise XmodalError("--ray needs Ray: pip install 'xmodal[ray]' (or pip install 'ray[data]')") from None
    return ray


def connect(opts: RayOptions) -> bool:
    """Start a local Ray cluster ('auto') or join the one at `address`;
    True when this call connected (the caller disconnects, which for a
    local cluster also shuts it down)."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    env = {"env_vars": {"TOKENIZERS_PARALLELISM": "false",
                        "XMODAL_CACHE": os.environ.get("XMODAL_CACHE", ""),
                        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}}
    kwargs: dict[str, Any] = {"runtime_env": env, "log_to_driver": False,
                              "include_dashboard": False, "configure_logging": False}
    if opts.address == "auto":  # a fresh local cluster (or $RAY_ADDRESS, as Ray itself does)
        start_local(ray, num_cpus=max(os.cpu_count() or 1, opts.workers * opts.cpus_per_worker), **kwargs)
    else:
        try:
            ray.init(address=opts.address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise XmodalError(f"--ray {opts.address}: cannot connect to the Ray cluster "
                              f"({str(exc).splitlines()[0][:200]}); start it with `ray start --head`") from None
    return True


def start_local(ray: Any, attempts: int = 3, **kwargs: Any) -> None:
    """`ray.init` for a local cluster, retried: Ray gives its raylet a fixed
    30 s to register, which a heavily loaded machine can miss."""
    for attempt in range(attempts):
        try:
            ray.init(**kwargs)
            return
        except Exception as exc:  # Ray raises a bare Exception for this
            if "timed out during startup" not in str(exc) or attempt == attempts - 1:
                raise XmodalError(f"could not start a local Ray cluster: {str(exc).splitlines()[0][:200]}") from None
            ray.shutdown()


def _quiet(ray: Any) -> None:
    """Progress is the driver's own bar; Ray Data's per-operator logs off."""
    import logging

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)


class ShardEmbedder:
    """Ray Data actor: loads the encoder once, then embeds whole shards and
    writes them (vectors first, descriptor last, as the local build)."""

    def __init__(self, spec: str, index_dir: str, batch_size: int, dtype: str, threads: int,
                 fingerprint: str, device: str = "cpu", backend: str | None = None,
                 precision: str | None = None):
        from xmodal.alignment import load_encoder
        from xmodal.alignment.core.threads import set_threads

        set_threads(max(1, threads))
        self.stack = load_encoder(spec, backend, device, precision)
        if self.stack.fingerprint != fingerprint:
            raise XmodalError(f"worker loaded '{spec}' with fingerprint {self.stack.fingerprint[:12]}, "
                              f"the driver has {fingerprint[:12]}: install the same weights on every node")
        self.index_dir, self.batch_size, self.dtype, self.threads = index_dir, batch_size, dtype, threads

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"name": [], "pid": [], "vectors": []}
        for name, rec_hash, payload in zip(batch["name"], batch["records_hash"], batch["records"]):
            records = [Record(**r) for r in json.loads(payload)]
            emb = embed_records(records, self.stack, self.batch_size, self.threads)
            write_shard(self.index_dir, Shard(str(name), emb.vectors, emb.rows, emb.skipped, str(rec_hash),
                                              self.stack.fingerprint), self.dtype)
            out["name"].append(str(name))
            out["pid"].append(os.getpid())
            out["vectors"].append(len(emb.rows))
        return out


def plan_shards(records: Iterable[Record], index_dir: str, prefix: str, shard_size: int,
                fingerprint: str) -> Iterator[tuple[int, str, str, list[Record], bool]]:
    """(k, name, records_hash, records, finished) per shard, exactly as the
    local build cuts and names them."""
    for k, chunk in enumerate(chunked(records, shard_size)):
        name = f"{prefix}{k:05d}"
        rec_hash = records_hash([r.id for r in chunk])
        yield k, name, rec_hash, chunk, is_finished(index_dir, name, rec_hash, fingerprint)


def embed_to_shards_ray(records: Iterable[Record], stack: Embedder, index_dir: str, prefix: str,
                        opts: RayOptions, settings: EmbedSettings = EmbedSettings(),
                        on_shard: ShardHook | None = None) -> list[str]:
    """`embed.embed_to_shards` on a Ray actor pool; same names, same files
    (`settings.workers` is the local decode pool's: each actor decodes with
    `opts.cpus_per_worker` threads).

    `on_shard(k, name, reused, n_records)` runs on the driver per shard:
    first for every reused shard, then as the workers finish the others."""
    ray = require_ray()
    names: list[str] = []
    todo: list[dict[str, Any]] = []
    meta: dict[str, tuple[int, int]] = {}
    for k, name, rec_hash, chunk, done in plan_shards(records, index_dir, prefix, settings.shard_size,
                                                       stack.fingerprint):
        names.append(name)
        if done:
            if on_shard:
                on_shard(k, name, True, len(chunk))
            continue
        meta[name] = (k, len(chunk))
        todo.append({"name": name, "records_hash": rec_hash,
                     "records": json.dumps([asdict(r) for r in chunk])})  # ASCII: Arrow needs valid UTF-8
    if not todo:
        return names
    started = connect(opts)
    _quiet(ray)
    try:
        gpus = 1 if opts.device.startswith("cuda") else 0
        ds = ray.data.from_items(todo, override_num_blocks=len(todo))
        ds = ds.map_batches(
            ShardEmbedder, batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=max(1, min(opts.workers, len(todo)))),
            num_cpus=opts.cpus_per_worker, num_gpus=gpus,
            fn_constructor_kwargs={"spec": stack.spec, "index_dir": str(index_dir),
                                   "batch_size": settings.batch_size, "dtype": settings.dtype,
                                   "threads": opts.cpus_per_worker, "fingerprint": stack.fingerprint,
                                   "device": opts.device, "backend": opts.backend,
                                   "precision": opts.precision})
        for row in ds.iter_rows():
            k, n = meta[row["name"]]
            if on_shard:
                on_shard(k, row["name"], False, n)
    finally:
        if started:
            ray.shutdown()
    return names
