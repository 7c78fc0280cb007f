"""Query layer: the search engine, its CLI, HTTP API and web page.

`Engine.open(path).search(Query(text=...), k=10, target="image")`."""
from .engine import Engine
from .hits import Hit
from .query import Query

__all__ = ["Engine", "Hit", "Query"]
