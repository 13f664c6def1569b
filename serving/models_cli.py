"""``folkgen models``: the models a command can use, with their kinds, versions, states and signatures.

    folkgen models                       the models folder's models, each loaded in this process
    folkgen models --server HOST:PORT    what that server serves, among the names it is asked about

TF Serving has no call that lists its models (only GetModelStatus / GetModelMetadata of a named
one), so against a server the names are probed: those given with ``--model``, else those of
``--config`` (serving/models.config) and of the local models folder; the table shows the ones the
server serves, and its caption the ones it does not. A model served under another name is not found.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from serving.model_access import DEFAULT_MODELS_CONFIG

if TYPE_CHECKING:
    from rich.table import Table

    from serving.client import ModelClient, VersionStatus

_COLUMNS = ("model", "kind", "version", "state", "signatures")


def add_models_parser(commands: argparse._SubParsersAction,
                      add_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    """Registers ``models`` on folkgen's subcommands."""
    models = commands.add_parser("models", help="list the models (in this process, or a server's): kinds, versions, "
                                 "states, signatures")
    models.add_argument("--model", action="append", help="a model name (repeatable; default: every model of the "
                        "folder; with --server, the names of --config and of the local folder, probed)")
    models.add_argument("--config", default=DEFAULT_MODELS_CONFIG,
                        help="with --server: a models.config whose names are probed (default serving/models.config)")
    add_flags(models)


def run(args: argparse.Namespace) -> int:
    """Prints the table of the local folder's models, or of the server's."""
    from rich.console import Console

    from serving.cli_flags import check_model_flags

    if args.server:
        table = _served_table(args)
    else:
        check_model_flags(args)
        table = _local_table(args)
    Console().print(table)
    return 0


def _new_table(title: str) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for column in _COLUMNS:
        table.add_column(column, overflow="fold")
    return table


def _kind(client: ModelClient) -> str:
    """The kind the model states, or why it states none."""
    from serving.generation.codecs import stated_kind
    from serving.generation.token_model import MissingModelKindError

    try:
        return stated_kind(client)
    except MissingModelKindError:
        return "not stated (re-export it)"
    except ValueError:
        return "-"


def _add_rows(table: Table, name: str, statuses: list[VersionStatus], client: ModelClient | None) -> None:
    """One row per version; kind and signatures from ``client`` (None: no version available)."""
    kind = _kind(client) if client is not None else "-"
    signatures = ", ".join(sorted(client.signatures)) if client is not None else ""
    for status in statuses:
        state = status.state + (f" ({status.error})" if status.error else "")
        table.add_row(name, kind, str(status.version), state, signatures)


def _local_table(args: argparse.Namespace) -> Table:
    """Each model of the folder, loaded as a server would load it (a version that fails shows its error)."""
    from serving.local_client import LocalModelClient, ModelLoadError
    from serving.model_access import NoSuchModelError, local_model_names, models_dir_path

    folder = models_dir_path(args.models_dir)
    present = local_model_names(folder)
    unknown = [name for name in args.model or () if name not in present]
    if unknown:
        raise NoSuchModelError(f"no model {unknown[0]!r} in {folder!r}; it holds: {', '.join(present) or 'no models'}")
    table = _new_table(f"models in {folder} (loaded in this process)")
    for name in args.model or present:
        try:
            client = LocalModelClient(folder, name)
        except ModelLoadError as error:
            table.add_row(name, "-", "-", f"not loaded: {error}", "")
            continue
        _add_rows(table, name, client.status(), client)
    return table


def _candidates(args: argparse.Namespace) -> list[str]:
    """The names to probe: --model's, else --config's and the local folder's."""
    from serving.model_access import candidate_names

    return list(dict.fromkeys(args.model)) if args.model else candidate_names(args.models_dir, args.config)


def _served_table(args: argparse.Namespace) -> Table:
    """The probed names the server serves, each version's state; the caption names the others."""
    from serving.cli_flags import retry_from_args
    from serving.client import connect
    from serving.model_access import served_statuses

    names = _candidates(args)
    retry = retry_from_args(args)
    served = served_statuses(args.server, names, args.rest, retry)
    table = _new_table(f"models served at {args.server}")
    for name, statuses in served.items():
        available = any(status.state == "AVAILABLE" for status in statuses)
        client = connect(args.server, name, args.rest, retry=retry) if available else None
        try:
            _add_rows(table, name, statuses, client)
        finally:
            if client is not None:
                client.close()
    missing = [name for name in names if name not in served]
    table.caption = (f"{len(names)} names asked about (TF Serving cannot list its models)"
                     + (f"; not served: {', '.join(missing)}" if missing else ""))
    return table
