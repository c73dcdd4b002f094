"""The service's listening socket, bound before anything slow happens.

``scripts/serve.py`` binds its address first and loads the model after: a port in use is then a one-line error
within a second, not after the model loaded. uvicorn serves on the socket bound here (``Server.run(sockets=)``),
so no other process can take the port between the check and the start.
"""
import socket


class PortInUseError(OSError):
    """The address cannot be listened on (in use, or not an address of this machine)."""


def bind_listening_socket(host, port):
    """A socket bound to (``host``, ``port``) as uvicorn binds its own (SO_REUSEADDR, IPv6 for ':' hosts)."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise PortInUseError(f'cannot listen on {host}:{port}: {err.strerror or err}; choose another --port or '
                             'stop the process that holds it') from err
    sock.set_inheritable(True)
    return sock
