"""Writing and hashing files: the one atomic writer (temp file in the same folder, fsync, rename) every stage uses."""
import contextlib
import gc
import hashlib
import os
import pickle
import tempfile
import threading
from pathlib import Path


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def copy_hashed(source, target):
    """Copy source to target (created or truncated); returns the sha256 of the bytes written, read once for both."""
    h = hashlib.sha256()
    with open(source, "rb") as src, open(target, "wb") as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            h.update(chunk)
            dst.write(chunk)
    return h.hexdigest()


def _fsync_quietly(path):
    """fsync a file or folder by its path; an error is left to the sync that must succeed (the file's own)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, data, durable=True):
    """Write bytes (or text, as UTF-8) to path so that a reader, or a crash, never sees a partial file.

    The temp file's name is unique, so processes writing the same path at once each replace it whole.
    durable=False leaves out the two fsyncs, for a cache entry that a power cut may cost but never
    corrupt unnoticed: its reader (read_cache) takes a damaged file for a missing one. A killed process
    loses nothing either way: the kernel keeps what was written.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        _fsync_quietly(path.parent)
    return path


def write_behind(path):
    """Start writing path's data to disk now, in a thread (fsync waits with the GIL released), while the caller goes on
    adding to it: the sync swap_in makes once the file is finished then has only the later pages left to write. For
    the start file's copy, two thirds of a new database, written at the start of the load stage."""
    threading.Thread(target=_fsync_quietly, args=(path,), daemon=True).start()


def swap_in(finished, path, durable=True):
    """Rename a finished file (written by another program, as SQLite's VACUUM INTO writes) over path,
    synced first as atomic_write's are: a crash leaves the old file or the whole new one. durable=False leaves out
    the fsyncs, as atomic_write's does, for a cache entry whose reader checks it is whole."""
    if durable:
        fd = os.open(finished, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(finished, path)
    if durable:
        _fsync_quietly(Path(path).parent)
    return Path(path)



@contextlib.contextmanager
def paused_gc(freeze=False):
    """The cyclic garbage collector paused (the state before is restored after): for a cache being loaded, or a
    build, which make many new objects that all stay alive, so collecting while they grow only walks them again.
    With freeze, the objects made meanwhile are moved out of the collector's reach before it resumes: otherwise its
    first pass walks them all at once (0.27 s at the end of a cold build)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if collecting:
            gc.enable()


# What unpickling a damaged or foreign cache file can raise
UNREADABLE = (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError, IndexError, ImportError)


def unpickle(data):
    """A pickle's value, loaded with the collector paused."""
    with paused_gc():
        return pickle.loads(data)


def read_cache(path):
    """A cache file's pickled value (unpickle); None when it is missing or unreadable (the caller then computes
    it again)."""
    try:
        return unpickle(Path(path).read_bytes())
    except UNREADABLE:
        return None
