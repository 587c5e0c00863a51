"""Write a file so that a reader sees all of it or none of it."""
import os
import tempfile


def write_atomic(path, data):
    """Write ``data`` (str or bytes) to ``path`` atomically.

    The bytes go to a temporary file in the same folder, are flushed to disk
    (fsync), and the file is then renamed over ``path`` (``os.replace`` is atomic
    on one file system). A crash or a full disk leaves the old file or none,
    never a truncated one; the temporary file is removed when writing fails.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if isinstance(data, str):
        data = data.encode("utf-8")
    handle, partial = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        try:
            os.remove(partial)
        except OSError:
            pass
        raise
