"""Keys for the caches in build/cache, derived from what a cached value depends on: the source bytes
of the modules that produce it and the installed versions of the packages they call."""
import ast
import fnmatch
import functools
import hashlib
import importlib.util
import os
import pickle
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .files import atomic_write, read_cache

PACKAGE = __name__.rpartition(".")[0]
KEY_GLOB = "[0-9a-f]" * 16  # a cache_key in a file name: a family's glob that matches no other family's names


def _source(module):
    """(name, source path) of a module object or a module's name, without importing it."""
    if isinstance(module, str):
        return module, Path(importlib.util.find_spec(module).origin)
    return module.__name__, Path(module.__file__)


# An import statement at the start of a line, at any indent (a function's own import counts): with its
# parenthesised names or backslash-continued lines. Only these are parsed, not the whole source: a build
# keys its caches by about twenty modules, and parsing each in full cost it 0.05 s.
_IMPORT = re.compile(rb"^[ \t]*((?:from[ \t]+[.\w]+[ \t]+import[ \t]*\([^)]*\)|(?:from[ \t]+[.\w]+[ \t]+)?import\b(?:[^\n\\]|\\[\s\S])*))", re.M)


def _import_nodes(source):
    """The import statements of a module's source, as ast nodes. A match that does not parse (prose in a
    docstring beginning "import ...") is no statement."""
    for m in _IMPORT.finditer(source):
        try:
            yield from ast.parse(m.group(1)).body
        except SyntaxError:
            continue


def _package_imports(name, path):
    """The modules of this package that the module's source imports, anywhere in it (read, not run)."""
    parent = name.rpartition(".")[0]
    for node in _import_nodes(path.read_bytes()):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(parent.split(".")[:len(parent.split(".")) - node.level + 1]) if node.level else ""
            target = ".".join(p for p in (base, node.module) if p)
            if node.module is None:  # from . import a, b: modules, or names the package's __init__ defines
                yield from (f"{target}.{alias.name}" if importlib.util.find_spec(f"{target}.{alias.name}") else target for alias in node.names)
            elif target == PACKAGE or target.startswith(PACKAGE + "."):
                yield target
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."))


@functools.lru_cache(maxsize=None)
def _imports_of(name, path):
    """_package_imports once per module and process (parsing a source takes milliseconds; cache_key, too,
    reads a module's bytes once per process), so keys sharing modules share the work."""
    return tuple(_package_imports(name, path))


def with_imports(*modules, leaves=()):
    """The modules and every module of this package they import, directly or through one another,
    as names sorted: what a cached value made by them depends on. A leaf (a module name) counts, but what it
    imports is not followed: for a value made with a few self-contained functions of a large module."""
    seen, todo = set(), [_source(m) for m in modules]
    while todo:
        name, path = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in leaves:
            todo.extend(_source(n) for n in _imports_of(name, path) if n not in seen)
    return tuple(sorted(seen))


@functools.lru_cache(maxsize=None)
def cache_key(*modules, packages=(), extra=()):
    """A 16-hex-digit key: any change to a module's bytes, a package's version or an extra string
    (a program's version) gives a new key, so a cache never serves a value the code would no longer
    produce. Computed once per process for each combination."""
    h = hashlib.sha256()
    for module in modules:  # module objects or names
        name, path = _source(module)
        h.update(f"{name}\0".encode())
        h.update(path.read_bytes())
    for name in packages:
        try:
            found = version(name)
        except PackageNotFoundError:
            found = "absent"
        h.update(f"\0{name}={found}".encode())
    for text in extra:
        h.update(f"\0{text}".encode())
    return h.hexdigest()[:16]


def prune(folder, family, current=None):
    """Delete the files of one cache family (a glob) that are not under the current key (a file name or a glob):
    written by code or packages since changed, nothing can read them again, and each family would otherwise
    grow by a full copy with every change to the code. current None: no code writes the family any more."""
    prune_families(folder, [(family, current)])


def prune_families(folder, families):
    """prune() for each (family, current) of families, the folder listed once."""
    try:
        names = os.listdir(folder)  # matched by name: Path.glob made a path of each of the ~1,100 files, per family
    except FileNotFoundError:
        return
    for family, current in families:
        kept = re.compile(fnmatch.translate(current)).match if current else None
        for name in fnmatch.filter(names, family):
            if kept is None or not kept(name):
                (Path(folder) / name).unlink(missing_ok=True)


class Kept:
    """One cache entry a build reads when it starts and writes back when its value changed:
    build/cache/<family>-<key>.pickle, the key that of what the value depends on (cache_key). Written without
    fsync (read_cache takes a damaged entry for a missing one); writing it removes the family's entries under
    other keys, which no code can read again."""

    def __init__(self, cache_dir, family, key):
        self.family, self.path = family, Path(cache_dir) / f"{family}-{key}.pickle"

    def load(self, valid=lambda value: isinstance(value, dict)):
        """The value kept, or None when it is missing, damaged or not valid (valid(value) false)."""
        found = read_cache(self.path)
        return found if found is not None and valid(found) else None

    def save(self, value):
        atomic_write(self.path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), durable=False)
        prune(self.path.parent, f"{self.family}-{KEY_GLOB}.pickle", self.path.name)

    def answers(self, valid=lambda value: isinstance(value, dict)):
        """This entry as Answers: a dict of answers kept from one build to the next."""
        return Answers(self, valid)


_NONE = object()


class Answers:
    """Answers a build computes and the next reuses (search words, meeting candidates, pending pairs):
    get(key, compute) gives the kept answer, else computes it; save() writes back the answers this build asked for,
    only when they differ from those kept, so an answer no build asks for any more is dropped. Kept None: nothing is
    kept (a build without a cache)."""

    def __init__(self, kept=None, valid=lambda value: isinstance(value, dict)):
        self.entry = kept
        self.kept = (kept.load(valid) if kept else None) or {}
        self.used = {}

    def get(self, key, compute, valid=lambda answer: True):
        """The answer for key: the one kept when valid(answer), else compute()'s."""
        if key not in self.used:
            found = self.kept.get(key, _NONE)
            self.used[key] = found if found is not _NONE and valid(found) else compute()
        return self.used[key]

    def save(self):
        if self.entry is not None and self.used != self.kept:
            self.entry.save(self.used)
