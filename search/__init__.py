"""Query layer: the search engine, its CLI, HTTP API and web page.

`Engine.open(path).search(Query(text=...), k=10, target="image")`."""
from xmodal.alignment.core.items import Hit

from .engine import Engine
from .options import SearchOptions
from .query import Query

__all__ = ["Engine", "Hit", "Query", "SearchOptions"]
