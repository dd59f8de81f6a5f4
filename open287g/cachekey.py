"""Keys for the caches in build/cache, derived from what a cached value depends on: the source bytes
of the modules that produce it and the installed versions of the packages they call."""
import functools
import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@functools.lru_cache(maxsize=None)
def cache_key(*modules, packages=(), extra=()):
    """A 16-hex-digit key: any change to a module's bytes, a package's version or an extra string
    (a program's version) gives a new key, so a cache never serves a value the code would no longer
    produce. Computed once per process for each combination."""
    h = hashlib.sha256()
    for module in modules:
        h.update(f"{module.__name__}\0".encode())
        h.update(Path(module.__file__).read_bytes())
    for name in packages:
        try:
            found = version(name)
        except PackageNotFoundError:
            found = "absent"
        h.update(f"\0{name}={found}".encode())
    for text in extra:
        h.update(f"\0{text}".encode())
    return h.hexdigest()[:16]


def prune(folder, family, current):
    """Delete the files of one cache family (a glob) that are not under the current key: written by
    code or packages since changed, nothing can read them again, and each family would otherwise
    grow by a full copy with every change to the code."""
    for path in Path(folder).glob(family):
        if not path.match(current):
            path.unlink(missing_ok=True)
