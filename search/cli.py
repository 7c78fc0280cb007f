"""`xmodal search` and `xmodal serve`: thin click wrappers over `Engine`
and the HTTP app.

Exit codes of `xmodal search` (for scripts):
  0  at least one hit was printed
  1  the search ran but found nothing (e.g. a filter matched no item)
  2  user error (bad index path, bad query, bad option): one `error:` line
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from xmodal.alignment.backends.flags import backend_flags
from xmodal.alignment.backends.options import RunOptions
from xmodal.alignment.core.errors import BadInput, XmodalError
from xmodal.alignment.core.output import emit, fail, json_option
from xmodal.alignment.core.threads import set_threads

from .filters import parse_where
from .output import hit_rows, hits_table
from .query import TARGETS, Query

EXIT_HITS, EXIT_NO_RESULTS, EXIT_USER_ERROR = 0, 1, 2


def _embedding(value: str) -> list[float]:
    """`--embedding '[0.1, ...]'` or `--embedding @vector.json`."""
    source = "--embedding"
    if value.startswith("@"):
        source = value[1:]
        try:
            value = Path(source).read_text()
        except OSError as exc:
            raise BadInput(source, f"cannot read ({exc.strerror})") from None
    try:
        data = json.loads(value)
    except ValueError:
        raise BadInput(source, "is not JSON", "give a JSON list of numbers") from None
    if not isinstance(data, list):
        raise BadInput(source, "is not a JSON list of numbers")
    return data


def _query(text, image, audio, embedding, item_id) -> Query:
    return Query(
        text=text,
        image=str(image) if image else None,
        audio=str(audio) if audio else None,
        embedding=_embedding(embedding) if embedding is not None else None,
        id=item_id,
    )


def _one_thread_unless_asked() -> None:
    """One torch/FAISS thread per query unless `xmodal --threads N` was
    given: OpenMP pools of several threads per query fight each other (and
    other processes) for the cores; concurrency comes from requests."""
    if click.get_current_context().find_root().params.get("threads") is None:
        set_threads(1)


@click.command()
@click.argument("index", type=click.Path(path_type=Path))
@click.argument("query_text", required=False)
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Search with this image file.")
@click.option("--audio", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Search with this sound file.")
@click.option("--embedding", metavar="JSON", help="Query vector as a JSON list (or @file.json).")
@click.option("--id", "item_id", help="More like this indexed item.")
@click.option("-k", "--k", "k", type=int, default=10, show_default=True, help="Number of results.")
@click.option("--target", type=click.Choice([*TARGETS, "all"]), default="all", show_default=True,
              help="Result modality (captions count as text).")
@click.option("--where", "where_pairs", multiple=True, metavar="KEY=VALUE",
              help="Metadata filter (repeatable, all must hold): KEY=V, KEY!=V, KEY>=N, KEY<N "
                   "(also <=, >), KEY='[\"a\",\"b\"]' (any of them), KEY:exists, KEY:missing. "
                   "An unknown KEY is an error listing the known ones.")
@click.option("--dedup", type=float, default=None, metavar="COS",
              help="Collapse results at least this cosine-similar to a better one, e.g. 0.95.")
@click.option("--rescore", is_flag=True, help="Re-rank ANN candidates exactly with stored vectors.")
@json_option("JSON Lines (the default when piped); --table for a table even when piped.")
@backend_flags
def search(index, query_text, image, audio, embedding, item_id, k, target, where_pairs,
           dedup, rescore, as_json, backend, device, precision) -> None:
    """Search INDEX with QUERY_TEXT, an image, a sound, a vector or an id.

    Prints a table on a terminal and JSON Lines when piped (or with --json).
    Exit status: 0 hits found, 1 no results, 2 user error."""
    from .engine import Engine
    from .options import check_k

    _one_thread_unless_asked()
    try:
        check_k(k)  # a bad -k is one error line before any model loads
        query = _query(query_text, image, audio, embedding, item_id)
        where = parse_where(where_pairs)
        run = RunOptions(backend, device, precision)
        hits = Engine.open(str(index), run=run).search(query, k=k, target=target, where=where,
                                                       dedup=dedup, rescore=rescore)
    except XmodalError as exc:
        fail(str(exc), EXIT_USER_ERROR)
        return
    if hits:
        emit(hit_rows(hits), as_json, lambda _rows: hits_table(hits), sort_keys=False)
    if not hits:
        click.echo("no results", err=True)
        sys.exit(EXIT_NO_RESULTS)


@click.command()
@click.argument("indexes", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; keep loopback unless behind a proxy.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--media-root", "media_roots", multiple=True, type=click.Path(file_okay=False),
              help="Directory media may be served from (repeatable); added to the corpus "
                   "roots the index manifests record.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Host header to answer to besides the bound address and localhost "
                   "(repeatable; '.example.com' a domain, '*' any).")
@click.option("--api-key", envvar="XMODAL_API_KEY", default=None, metavar="KEY",
              help="Require this key in the X-API-Key header of every request "
                   "(or set XMODAL_API_KEY; keeps it out of the process list).")
@click.option("--absolute-paths", is_flag=True,
              help="Show file system paths in responses (default: relative to the corpus root).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@backend_flags
def serve(indexes, host, port, media_roots, allow_hosts, api_key, absolute_paths, log_level,
          backend, device, precision) -> None:
    """Serve INDEXES (same encoder) over HTTP: API at /search, docs at
    /docs, the web page at /.

    Requests must carry a Host header naming the bound address, localhost
    or an --allow-host name (a web page that rebinds its DNS name to
    127.0.0.1 cannot reach the server), and the API key when one is set.

    Each query runs on one torch/FAISS thread unless `xmodal --threads N
    serve ...` says otherwise: concurrency comes from serving requests in
    parallel (measured: several-thread pools made single queries 10-100x
    slower on a busy 2-core machine)."""
    import uvicorn

    from .app import create_app
    from .engine import Engine
    from .guard import ServeOptions

    _one_thread_unless_asked()

    try:
        engine = Engine.open([str(p) for p in indexes], run=RunOptions(backend, device, precision))
    except XmodalError as exc:
        fail(str(exc), EXIT_USER_ERROR)
        return
    if api_key is not None and not api_key.strip():
        fail("--api-key is empty: give a key, or leave the option out", EXIT_USER_ERROR)
        return
    options = ServeOptions.for_bind(host, tuple(allow_hosts), api_key=api_key, absolute_paths=absolute_paths)
    app = create_app(engine, media_roots=[str(r) for r in media_roots], options=options)
    click.echo(f"serving {', '.join(s.name for s in engine.sources)} on http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
