"""`registry ui`: serve the read-only web UI over the same registry as the other commands."""

from __future__ import annotations

import errno
import ipaddress
from typing import TYPE_CHECKING

import click

from registry_project.cli.app import CliState, RegistryGroup, fail, handles_errors, pass_state

if TYPE_CHECKING:
    import socket

# Host headers a UI on a loopback address answers to: a web page elsewhere that rebinds its
# own DNS name to 127.0.0.1 then cannot read the registry through the visitor's browser.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def allowed_hosts(host: str) -> list[str] | None:
    """The Host headers to accept when serving on `host`; None accepts any (a deliberate
    `--host 0.0.0.0` is reached under names the UI cannot know)."""
    if host == "localhost":
        return list(LOOPBACK_HOSTS)
    bare = host.strip("[]")
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return None
    if not address.is_loopback:
        return None
    return list(dict.fromkeys([*LOOPBACK_HOSTS, bare, f"[{bare}]" if ":" in bare else bare]))


@click.command(short_help="Serve the read-only web UI (models, compare, lineage, audit).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=3001, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
@pass_state
@handles_errors
def ui(state: CliState, host: str, port: int) -> None:
    """Serve a read-only web UI over the registry: models and their versions (filter, sort,
    a metric chart), side-by-side comparison, each version's lineage graph, datasets and
    the audit log with the hash chain's verification status.

    It only reads: every page answers GET, and nothing on it changes the registry.
    DAGSTER_WEBSERVER_URL (e.g. http://127.0.0.1:3000) turns Dagster run ids into links.

    \b
    Example:
      registry ui --port 3001      # then open http://127.0.0.1:3001
    """
    # Imported here so the other commands do not pay for Starlette, Jinja2 and uvicorn.
    import uvicorn

    from registry_project.ui import create_app

    app = create_app(state.registry(), allowed_hosts=allowed_hosts(host))
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    listening = _listen(host.strip("[]"), port, f"{shown}:{port}")
    click.echo(f"registry UI (read-only) on http://{shown}:{port}/ ; Ctrl+C stops it", err=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="info"))
    server.run(sockets=[listening])


def _listen(host: str, port: int, shown: str) -> socket.socket:
    """The listening socket, bound before the banner is printed: a busy port is one error
    line (exit 1), not a banner followed by uvicorn's traceback. uvicorn serves on this
    very socket, so no other process can take the port in between."""
    import socket  # here, not with the module: `registry --help` needs no network (issue #18)

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family)
    except socket.gaierror as exc:
        fail(f"cannot listen on {shown}: unknown host ({exc.strerror}); check --host")
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"port {port} is already in use on {host}: stop what is serving there or "
                "choose another port with --port"
            )
        fail(f"cannot listen on {shown}: {exc.strerror or exc}; check --host and --port")


def register(group: click.Group) -> None:
    if isinstance(group, RegistryGroup):
        group.add_section("Web UI", ui)
    else:
        group.add_command(ui)
