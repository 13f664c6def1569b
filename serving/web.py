"""``folkgen web``: a page on this machine to compose with (generate, see, hear, vary bars, download).

    folkgen web                                  # models loaded in this process from saved_models/
    folkgen web --port 8080 --server localhost:8500   # a TF Serving (stand-in) server over gRPC
    python -m serving.web --port 8080            # the same, without the console script

The page is ``serving/page`` (see serving/README.md, "Web page"). Importing this module is light:
TensorFlow, gRPC and the page load when ``run`` starts it.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

DEFAULT_PORT = 8080
EXIT_ERROR = 1


def add_web_parser(commands: argparse._SubParsersAction, add_server_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    """Registers ``web`` on folkgen's subcommands."""
    web = commands.add_parser("web", help="serve a page to compose with (generate, play, vary bars, download)",
                              description="Serves the Folkgen page on --host:--port. Without --server the models "
                              "are loaded in this process from --models-dir.")
    add_web_flags(web, add_server_flags)


def add_web_flags(parser: argparse.ArgumentParser, add_server_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port of the page (default %(default)s; 0: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s: this machine only)")
    add_server_flags(parser)


def run(args: argparse.Namespace) -> int:
    """Serves the page until interrupted; 1 with one ``folkgen: error:`` line when it cannot start."""
    from serving.cli_flags import check_model_flags, retry_from_args
    from serving.client import ClientError
    from serving.page.catalog import ModelCatalog
    from serving.page.host import PageSettings, serve_page

    if not 0 <= args.port <= 65535:
        print(f"folkgen: error: --port must be 0 to 65535, got {args.port}", file=sys.stderr)
        return EXIT_ERROR
    try:
        check_model_flags(args)
    except ValueError as error:
        print(f"folkgen: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    catalog = ModelCatalog(args.server, args.models_dir, args.rest,
                           retry_from_args(args))
    try:
        if not catalog.token_models():
            where = args.server or args.models_dir or "the models folder"
            print(f"folkgen: error: no token model available at {where}", file=sys.stderr)
            return EXIT_ERROR
        serve_page(PageSettings(args.host, args.port), catalog)
    except (ValueError, OSError, ClientError) as error:
        print(f"folkgen: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 0
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m serving.web``: the ``web`` command's flags alone."""
    from serving.cli_flags import add_model_flags  # the CLI's own --models-dir/--server/--rest/...
    from serving.tf_quiet import import_tensorflow

    parser = argparse.ArgumentParser(prog="folkgen web", description="Serve the Folkgen page.")
    add_web_flags(parser, add_model_flags)
    args = parser.parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import_tensorflow(verbose)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
