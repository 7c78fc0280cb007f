"""The `xmodal` command. Subcommands come from the ``xmodal.commands``
entry-point group (built-ins register there exactly as plugins do) and are
imported only when used, so `xmodal --help` stays fast."""
from __future__ import annotations

import os
from importlib.metadata import entry_points

import click

from ..core.errors import XmodalError
from ..core.output import fail
from ..core.threads import set_threads


class PluginGroup(click.Group):
    """A click group whose commands are entry points, loaded lazily."""

    def _eps(self) -> dict:
        return {ep.name: ep for ep in entry_points(group="xmodal.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self._eps()) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str):
        if name in self.commands:
            return self.commands[name]
        ep = self._eps().get(name)
        if ep is None:
            return None
        try:
            return ep.load()
        except Exception as exc:  # a broken plugin must not break the others
            return _broken(name, f"{ep.value} failed to load: {type(exc).__name__}: {exc}")


def _broken(name: str, why: str) -> click.Command:
    def run() -> None:
        fail(f"command '{name}' is unavailable: {why}")

    return click.Command(name, callback=run, help=f"(unavailable: {why})")


@click.group(cls=PluginGroup)
@click.option("--threads", type=int, default=None, envvar="XMODAL_THREADS",
              help="Torch/FAISS CPU threads (default: all cores).")
@click.version_option(package_name="xmodal")
def cli(threads: int | None) -> None:
    """Cross-modal retrieval: encode, index, search, align, benchmark."""
    if threads:
        set_threads(threads)


def main() -> None:
    """Console entry point: user errors become one line and exit code 2."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Idle OpenMP workers spin by default; on small shared machines that
    # halved the bare image forward (5.9 vs 12.9 images/s, benchmarks/RESULTS.md).
    # Must be set before torch/faiss load their OpenMP runtime.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        cli(standalone_mode=True)
    except XmodalError as exc:
        fail(str(exc))


if __name__ == "__main__":
    main()
