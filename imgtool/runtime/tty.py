"""The container's stdio: handed over as is, through pipes, or through a pseudo-terminal (`-t`).

Why a pty is allocated *inside* the container (runc's `terminal: true`): the master comes from the
container's own devpts instance (`/dev/pts`, newinstance, ptmxmode=0666), so the slave is
`/dev/pts/N` there, `tty` names it, and nothing of the host's /dev/pts is visible. The init opens it,
bind-mounts the slave onto `/dev/console`, makes it stdio and its controlling terminal, and sends the
master over a unix socket with SCM_RIGHTS: to the caller's `--console-socket` (runc's protocol: the
name "/dev/ptmx" as payload), or to this process, which then copies bytes between its own stdio
and the master.

Why pipes without `-t`: docker never gives a container the caller's terminal, which it could
reconfigure (or TIOCSTI into, given CAP_SYS_ADMIN); so a host terminal among the caller's stdio is
replaced by a pipe and relayed. Other fds (files, pipes, /dev/null) are handed over unchanged.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import socket
import stat
import termios
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Protocol

from tty import setraw

from .resolve import Root

_PTMX = os.makedev(5, 2)
_TIOCSPTLCK = 0x40045431
_TIOCGPTPEER = 0x5441  # open the slave from the master: no path lookup in a container-controlled /dev/pts
_CHUNK = 65536


# --- in the container's init --------------------------------------------------------------------
def open_pty(root: Root) -> tuple[int, int]:
    """(master, slave) from the devpts instance behind `/dev/ptmx` of `root`, resolved in-root.

    The multiplexer is checked to be 5:2 so an image cannot pass off another file as the console.
    """
    master = root.open_file("dev/ptmx", os.O_RDWR | os.O_NOCTTY)
    st = os.fstat(master)
    if not (stat.S_ISCHR(st.st_mode) and st.st_rdev == _PTMX):
        os.close(master)
        raise OSError(errno.ENOTTY, "/dev/ptmx is not the pseudo-terminal multiplexer")
    fcntl.ioctl(master, _TIOCSPTLCK, b"\0\0\0\0")
    slave = fcntl.ioctl(master, _TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    return master, slave


def set_size(fd: int, rows: int, cols: int) -> None:
    """Set a terminal's window size (runtime-spec process.consoleSize)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, rows.to_bytes(2, "little") + cols.to_bytes(2, "little") + bytes(4))


def send_master(sock_fd: int, master: int) -> None:
    """Hand the master to whoever holds the other end of the console socket (runc's SendFile)."""
    with socket.socket(fileno=sock_fd) as sock:
        socket.send_fds(sock, [b"/dev/ptmx"], [master])


# --- in the caller ------------------------------------------------------------------------------
def receive_master(sock: socket.socket) -> int:
    """The master fd the init sent over the console socket."""
    _, fds, _, _ = socket.recv_fds(sock, 4096, 1)
    if not fds:
        raise OSError(errno.EPROTO, "container init sent no pseudo-terminal")
    return fds[0]


@contextmanager
def raw_mode(fd: int | None) -> Iterator[None]:
    """Raw mode on a host terminal for the duration (every key, ^C included, goes to the container).

    Restored on any exit from the block; the signals that would otherwise end this process are
    forwarded to the container meanwhile (`container.wait`), so they end up here too.
    """
    if fd is None:
        yield
        return
    saved = termios.tcgetattr(fd)
    setraw(fd, termios.TCSADRAIN)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _read(fd: int) -> bytes | None:
    """Up to a chunk; b"" at end of file (EIO: a pty master whose slaves are all closed); None: not yet."""
    try:
        return os.read(fd, _CHUNK)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno == errno.EIO:
            return b""
        raise


def _write_all(fd: int, data: bytes) -> int:
    """Write everything to a (blocking) host fd; returns the fd, or -1 (discard from now on) once
    its reader is gone, so the container never blocks on output nobody reads."""
    try:
        while data and fd >= 0:
            data = data[os.write(fd, data):]
    except BrokenPipeError:
        return -1
    return fd


class Hub(Protocol):
    """Further peers of the relay loop: `readers`/`writers` are polled with the container's fds,
    `read(fd)` returns input for the container (b"" for none), `flush` gets the writable fds."""

    stdin: bool  # whether the container gets an input pipe fed from `read`

    def readers(self) -> list[int]: ...

    def writers(self) -> list[int]: ...

    def read(self, fd: int) -> bytes: ...

    def flush(self, writable: list[int]) -> None: ...


class Streams:
    """How the container's stdin/stdout/stderr meet the caller's `host` fds.

    `setup` chooses by the spec: `process.terminal` -> a pty (host stdin is forwarded; give
    /dev/null for no input); else, with `interpose`, pipes in place of host terminals; else the
    host fds as they are. `relay` then copies until every container-side output is closed, which
    happens when the container's PID 1 exits (the kernel kills the rest of its PID namespace).
    """

    def __init__(self, host: tuple[int, int, int] = (0, 1, 2), interpose: bool = False,
                 tee: Callable[[str, bytes], None] | None = None, clear_onlcr: bool = False):
        self.host = host
        # runc's recvtty: the pty's "\n" stays "\n" for a caller reading a pipe or file (docker keeps
        # "\r\n"); on a host terminal, in raw mode meanwhile, "\r\n" is what displays right
        self.clear_onlcr = clear_onlcr
        self.interpose = interpose
        self.tee = tee  # also gets every output chunk ("stdout"/"stderr"): outputs are then always piped
        self.hub: Hub | None = None  # more peers served by the relay loop (a monitor's attach clients)
        self.names: dict[int, str] = {}  # our read end -> "stdout" / "stderr"
        self.child: tuple[int, int, int] = host  # the fds the init puts on 0, 1, 2
        self.outputs: dict[int, int] = {}  # our read end -> host fd
        self.input: tuple[int, int] | None = None  # (host fd, our write end)
        self.terminal = False
        self._console: tuple[socket.socket, socket.socket] | None = None  # (ours, the init's)
        self._ours: list[int] = []  # pipe ends to close in this process after spawn / at the end

    def _size_source(self) -> int | None:
        """The host terminal whose window size the pty follows: stdout's, as docker, else stdin's."""
        return next((fd for fd in (self.host[1], self.host[0]) if os.isatty(fd)), None)

    def setup(self, spec: dict[str, Any]) -> int | None:
        """Prepare before spawn; returns the console socket fd for the init's `Plan`, if any."""
        proc = spec["process"]
        if proc.get("terminal"):
            self.terminal = True
            host_tty = self._size_source()
            if host_tty is not None and "consoleSize" not in proc:
                rows, cols = os.get_terminal_size(host_tty)[::-1]
                proc["consoleSize"] = {"height": rows, "width": cols}
            self._console = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            return self._console[1].fileno()
        if self.interpose or self.tee:
            child = list(self.host)
            for i, fd in enumerate(self.host):
                if (self.interpose and os.isatty(fd)) or (self.tee and i > 0):
                    r, w = os.pipe()
                    child[i] = r if i == 0 else w
                    self._ours += [r, w]
                    if i == 0:
                        self.input = (fd, w)
                    else:
                        self.outputs[r] = fd
                        self.names[r] = ("stdout", "stderr")[i - 1]
            if self.hub is not None and self.hub.stdin and self.input is None:  # input from the hub only
                r, w = os.pipe()
                child[0] = r
                self._ours += [r, w]
                self.input = (-1, w)
            self.child = (child[0], child[1], child[2])
        return None

    def raw_newlines(self) -> bool:
        """Whether the container's pty must not turn "\n" into "\r\n" (`clear_onlcr` and our stdout
        is no terminal); applied by the init before exec, so no early output escapes it."""
        return self.clear_onlcr and self.terminal and not os.isatty(self.host[1])

    def started(self) -> None:
        """After spawn: drop the container's ends here (so EOF can happen), take the pty master."""
        for fd in self.child:
            if fd in self._ours:
                os.close(fd)
                self._ours.remove(fd)
        if self._console is not None:
            ours, theirs = self._console
            theirs.close()
            master = receive_master(ours)
            ours.close()
            self._console = None
            self._ours.append(master)
            self.outputs[master] = self.host[1]
            self.names[master] = "stdout"
            self.input = (self.host[0], master)

    def relay(self, pid: int) -> None:
        """Copy while container `pid` runs and until its outputs close (raw mode, SIGWINCH with a pty)."""
        if not self.outputs and self.input is None:
            return
        host_tty = self._size_source() if self.terminal else None
        if host_tty is None:
            return self._copy(pid)
        master = next(iter(self.outputs))  # a pty's only output
        resize = lambda *_: fcntl.ioctl(master, termios.TIOCSWINSZ,  # noqa: E731
                                        fcntl.ioctl(host_tty, termios.TIOCGWINSZ, bytes(8)))
        previous = signal.signal(signal.SIGWINCH, resize)
        try:
            resize()  # it may have changed since spawn
            with raw_mode(self.host[0] if os.isatty(self.host[0]) else None):
                self._copy(pid)
        finally:
            signal.signal(signal.SIGWINCH, previous)

    def _copy(self, pid: int) -> None:
        """One select loop: container outputs -> host, host stdin -> container (never blocking on it).

        Input stops at host stdin EOF (closing a stdin pipe, so the container sees EOF; a pty is left
        alone) or when `pid` exits, which a pidfd reports; outputs are read to EOF, which follows.
        """
        outputs = dict(self.outputs)
        src, dst = self.input if self.input is not None else (-1, -1)
        if dst >= 0:
            os.set_blocking(dst, False)
        exited = os.pidfd_open(pid)
        pending = b""
        hub = self.hub
        try:
            while outputs or src >= 0 or pending:
                want_read = list(outputs) + ([src] if src >= 0 and not pending else [])
                want_read += [exited] if src >= 0 or pending else []
                hub_fds = hub.readers() if hub is not None and not pending else []
                want_read += hub_fds
                want_write = ([dst] if pending else []) + (hub.writers() if hub is not None else [])
                readable, writable, _ = select.select(want_read, want_write, [])
                if exited in readable:
                    src, pending, writable = -1, b"", []
                for fd in readable:
                    if fd in outputs:
                        data = _read(fd)
                        if data == b"":
                            del outputs[fd]
                        elif data:
                            if self.tee is not None:
                                self.tee(self.names[fd], data)
                            outputs[fd] = _write_all(outputs[fd], data)
                    elif fd == src:
                        data = _read(fd)
                        if data == b"":
                            src = -1
                            if not self.terminal:
                                self._close(dst)
                        elif data:
                            pending = data
                    elif fd in hub_fds:  # not `else`: the source fd may be readable still after `exited`
                        data = hub.read(fd)
                        pending += data if dst >= 0 else b""
                if hub is not None:
                    hub.flush(writable)
                if dst in writable:
                    try:
                        pending = pending[os.write(dst, pending):]
                    except BlockingIOError:
                        pass
                    except OSError:  # the container closed its stdin: nothing more to forward
                        pending, src = b"", -1
        finally:
            os.close(exited)

    def _close(self, fd: int) -> None:
        if fd in self._ours:
            self._ours.remove(fd)
            os.close(fd)

    def close(self) -> None:
        """Release every fd this object opened (idempotent)."""
        while self._ours:
            self._close(self._ours[0])
        if self._console is not None:
            for sock in self._console:
                sock.close()
            self._console = None
