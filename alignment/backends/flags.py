"""`--backend`, `--device` and `--precision` for every command that loads an
encoder. Click and the name checks only (no torch), so a bad value is one
usage error before anything heavy is imported."""
from __future__ import annotations

from typing import Any, Callable

import click

from ..core.errors import XmodalError
from .devices import DEVICE_CHOICES, check_device_name
from .options import BACKENDS, PRECISIONS


def device_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_device_name(value)
    except XmodalError:
        raise click.BadParameter(f"{value!r}: give one of {DEVICE_CHOICES}") from None


def device_flag(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Only `--device` (commands that train rather than run a backend)."""
    return click.option("--device", default=None, callback=device_callback, metavar=DEVICE_CHOICES,
                        help="Where the model runs [default: $XMODAL_DEVICE, else auto = CUDA when present].")(fn)


def backend_flags(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--backend`, `--device`, `--precision` (defaults: environment, else auto)."""
    fn = click.option("--precision", type=click.Choice(PRECISIONS), default=None,
                      help="Numeric precision [default: auto = fp16 autocast on CUDA with torch, else fp32].")(fn)
    fn = device_flag(fn)
    return click.option("--backend", type=click.Choice(BACKENDS), default=None,
                        help="Inference backend [default: $XMODAL_BACKEND, else auto = the fastest "
                             "installed, measured once per machine].")(fn)
