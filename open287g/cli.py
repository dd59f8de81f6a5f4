"""The open287g command: build, serve, fetch, extract-moa, gates and publish, each a thin wrapper over a stage module."""
import gc
import importlib
import os
import sys
import traceback

import click

from . import BUILD, DATA


# Commands defined in other modules, imported only when run or listed: `open287g build` starts without the
# fetcher, the PDF reader and the publisher. A module that cannot be imported here (an image without the PDF
# packages) leaves its command out.
LAZY = {"fetch": ("fetch_documents", "fetch_command"), "extract-moa": ("moa", "extract_command"),
        "publish": ("publish", "publish_command"), "changes": ("publish", "diff_command"), "gates": ("gates", "gates_command")}


class _Commands(click.Group):
    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *(name for name in LAZY if self.get_command(ctx, name))})

    def get_command(self, ctx, name):
        if name not in LAZY:
            return super().get_command(ctx, name)
        module, attr = LAZY[name]
        try:
            return getattr(importlib.import_module(f"open287g.{module}"), attr)
        except (ImportError, AttributeError):
            return None


@click.group(cls=_Commands)
def cli():
    """287(g) Open Data: ICE's 287(g) publications as one SQLite database."""


@cli.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=str(DATA), show_default=True)
@click.option("--out", "db_path", type=click.Path(dir_okay=False), default=str(BUILD / "287g.db"), show_default=True)
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default=None, help="Parsed-workbook cache (default: build/cache).")
@click.option("--jobs", type=int, default=None, help="Worker processes for reading workbooks (default: CPU count).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: only on a terminal).")
@click.option("--force", is_flag=True, help="Rebuild even when no input changed.")
@click.option("--no-documents", is_flag=True, help="Leave out the MOA documents' tables (to time what they cost; the site needs them).")
@click.pass_obj
def build(whole_program, data_dir, db_path, cache_dir, jobs, progress, force, no_documents):
    """Build build/287g.db from every file in data/.

    \b
    Exit codes:
      0  built: every file read
      1  built, some file refused: the database is in place without it (named on stderr, recorded in build_anomalies)
      2  not built: a configuration or data error, no workbooks, a failed QA check or a crash; the old database stays
    """
    # sqlite-utils imports pandas, when installed, only to map its types; the build's rows are
    # plain Python values and that import costs 0.6 s a build.
    sys.modules.setdefault("pandas", None)
    from .pipeline import NOT_BUILT, run_build

    if whole_program:
        # The build pauses the cyclic collector (run_build); turned back on, its first collection would walk every
        # object the build made (70 ms of a rebuild) just before the process ends with os._exit below.
        gc.disable()

    try:
        code = run_build(data_dir, db_path, cache_dir=cache_dir, jobs=jobs, progress=progress, force=force,
                         with_documents=not no_documents)
    except Exception:
        # Python's own exit code for a crash is 1, which would read as "built".
        traceback.print_exc()
        print("error: the build stopped; the database was not replaced", file=sys.stderr)
        code = NOT_BUILT
    if whole_program:  # main() passes True; a caller such as click's test runner, nothing
        # Everything is written, synced and closed: end here rather than have the interpreter free the build's
        # millions of objects one by one on the way out (0.9 s after a cold build).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


@cli.command()
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default=str(BUILD / "287g.db"), show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True)
@click.option("--prod", is_flag=True, help="The production layout: nginx cache in front, typed SQL in its own process (docs/OPERATIONS.md).")
@click.option("--run-dir", type=click.Path(file_okay=False), default=str(BUILD / "prod"), show_default=True,
              help="With --prod: nginx config, sockets, cache and logs.")
def serve(db_path, host, port, prod, run_dir):
    """Serve the built database with Datasette, read-only and immutable."""
    if prod:
        from .prod import serve_prod

        sys.exit(serve_prod(db_path, host, port, run_dir))
    from .serve import serve as run_serve

    sys.exit(run_serve(db_path, host, port))


def main():
    """The program: the console script and `python -m open287g.cli` (its commands' obj is True: the process is theirs)."""
    cli(obj=True)


if __name__ == "__main__":
    main()
