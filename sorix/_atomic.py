"""Write a file so that readers see the old contents or the new, never a mix.

The data goes to a temporary file in the target's folder (same filesystem, so
the final rename is atomic), which is flushed and fsynced, then renamed over
the target with ``os.replace``. If anything fails on the way, a full disk, an
exception in the caller's code, Ctrl-C, the temporary file is removed and the
target is untouched. A process killed outright (SIGKILL, power loss) can leave
a hidden ``.<name>.<random>.tmp`` file behind, but never a damaged target.

    with atomic_write("weights.sorix") as fh:     # fh is a binary file
        fh.write(payload)
    write_atomic("kernel.py", source)             # str or bytes in one call
"""
import contextlib
import os
import secrets

__all__ = ["atomic_write", "write_atomic"]


def _create_temporary(folder, name):
    """Open a new file next to the target. Mode 0o666 lets the umask decide permissions,
    as a plain ``open(path, 'w')`` would (``tempfile.mkstemp`` would force 0o600)."""
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
             | getattr(os, "O_CLOEXEC", 0))
    for _ in range(100):
        temporary = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
        except OSError as exc:  # name the file the caller asked for, not the temporary
            raise type(exc)(exc.errno, exc.strerror, os.path.join(folder, name)) from None
    raise FileExistsError(f"could not create a temporary file in {folder!r}")


def _keep_mode_of(target, temporary):
    """Give the new file the permissions of the file it replaces, as overwriting would."""
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        return
    try:
        os.chmod(temporary, mode)
    except OSError:
        pass


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); harmless to skip where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding=None):
    """Context manager yielding a file object whose contents replace ``path`` on success.

    ``mode`` is ``'wb'`` (default) or ``'w'`` (text, with ``encoding``, default UTF-8).
    A symlink at ``path`` is followed, so the file it points to is replaced, as
    ``open(path, 'w')`` would write through it.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write supports mode 'wb' or 'w', not {mode!r}")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    target = os.path.realpath(os.fspath(path))
    folder, name = os.path.split(target)
    fd, temporary = _create_temporary(folder, name)
    try:
        try:
            fh = os.fdopen(fd, mode, encoding=encoding)
        except BaseException:
            os.close(fd)
            raise
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _keep_mode_of(target, temporary)
        os.replace(temporary, target)
    except BaseException:  # includes KeyboardInterrupt: the target keeps its old contents
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


def write_atomic(path, data, encoding="utf-8"):
    """Replace ``path`` with ``data`` (bytes, or str encoded with ``encoding``) atomically."""
    if isinstance(data, str):
        with atomic_write(path, "w", encoding=encoding) as fh:
            fh.write(data)
    else:
        with atomic_write(path, "wb") as fh:
            fh.write(data)
