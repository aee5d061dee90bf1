"""On-disk cache of the site models' pydantic core schemas: ``heatreuse validate`` starts fast.

Every site model is built lazily (``defer_build=True``): the first validation of a
site file makes pydantic generate the core schema of about 30 models, which costs
more CPU (about 60 ms) than validating the file itself. The schema is a plain
data structure that only depends on the model source and the pydantic version,
so it is kept between runs, the way Python keeps bytecode in ``__pycache__``
and numba its compiled kernels: :class:`heatreuse.site.base.SiteModel` asks
:func:`install` for a cached schema before pydantic generates one, and
:func:`remember` keeps what pydantic generated for the next process. Validators
and serializers are compiled from the same schema by pydantic-core either way
(about 1 ms), so a model behaves identically with or without the cache
(``tests/site/test_schema_cache.py``).

pydantic names each model's definition in a schema after the class and its ``id()``
(``heatreuse.site.model.Site:1402...``), which differs from process to process: the
cache keeps the class and names the definition with the id of this process's class
when it reads it, so a cached schema and one pydantic builds later in the same process
name the same model alike.

The cache is one pickle file per *key*: a hash of the pydantic, pydantic-core and
Python versions and the source of the model's modules, so an edited model or an
upgraded pydantic never meets an old schema. It lives in
``$HEATREUSE_CACHE_DIR`` (``off`` switches the cache off), else
``$XDG_CACHE_HOME/heatreuse`` or ``~/.cache/heatreuse``. Like ``__pycache__``,
the file is trusted as much as the installed code: only the user writes there.
Anything unexpected (unreadable file, a schema that does not pickle, an
unpickling error) falls back to pydantic's own build, silently: the cache can
make a command faster, never wrong.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import io
import os
import pickle
import re
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

#: Environment variable naming the cache folder (``off``: no cache).
CACHE_DIR_ENV = "HEATREUSE_CACHE_DIR"
#: pydantic's switch for its plugins, and the values that switch them all off (as
#: ``pydantic.plugin._loader.get_plugins`` reads it; the console script sets ``__all__``).
PLUGINS_ENV = "PYDANTIC_DISABLE_PLUGINS"
PLUGINS_OFF = ("__all__", "1", "true")
#: Bump when the file layout changes.
_FORMAT = 2

#: key -> {class id -> pickled schema} as read from disk (``None``: nothing usable).
_loaded: dict[str, dict[str, bytes] | None] = {}
#: key -> {class id -> pickled schema} built in this process, written at exit.
_pending: dict[str, dict[str, bytes]] = {}
#: packages of a class and its bases -> key (the source hash is computed once per process).
_keys: dict[str, str] = {}
_atexit_registered = False


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when the cache is switched off."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env is not None:
        return None if env.strip().lower() in ("off", "0", "") else Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "heatreuse"


#: ``from heatreuse.x import ...`` / ``import heatreuse.x`` anywhere in a source file.
_IMPORT = re.compile(rb"^[ \t]*(?:from|import)[ \t]+(heatreuse(?:\.\w+)*)", re.MULTILINE)


def _source_files(cls: type[BaseModel]) -> list[str]:
    """Source files a model's schema may depend on.

    Every ``.py`` file of the packages of ``cls`` and its bases, and every heatreuse
    module those files import (``heatreuse.units``): read from the source, so the set
    is the same whatever this process has imported so far.
    """
    root = Path(sys.modules["heatreuse"].__file__ or "").parent
    files: set[Path] = set()
    for klass in cls.__mro__:
        file = getattr(sys.modules.get(klass.__module__), "__file__", None)
        if file and klass.__module__.startswith("heatreuse."):
            files.update(Path(file).parent.glob("*.py"))
    for file in list(files):
        for match in _IMPORT.finditer(file.read_bytes()):
            parts = match.group(1).decode().split(".")[1:]
            for candidate in (
                root.joinpath(*parts).with_suffix(".py") if parts else root / "__init__.py",
                root.joinpath(*parts, "__init__.py"),
            ):
                if candidate.is_file():
                    files.add(candidate)
                    break
    return sorted(str(f) for f in files)


def cache_key(cls: type[BaseModel]) -> str:
    """Hash of the versions and model sources that ``cls``'s schema depends on."""
    # classes whose bases come from the same packages share the key (computed once)
    packages = ",".join(
        sorted({k.__module__.rsplit(".", 1)[0] for k in cls.__mro__ if k.__module__ != "builtins"})
    )
    key = _keys.get(packages)
    if key is not None:
        return key
    import pydantic
    import pydantic_core

    h = hashlib.sha256(
        f"{_FORMAT} {sys.version} {pydantic.VERSION} {pydantic_core.__version__}".encode()
    )
    for file in _source_files(cls):
        h.update(file.encode())
        h.update(Path(file).read_bytes())
    key = h.hexdigest()[:32]
    _keys[packages] = key
    return key


def _class_id(cls: type[BaseModel]) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _file(key: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"site-schemas-{key}.pickle"


def _entries(key: str) -> dict[str, bytes] | None:
    if key not in _loaded:
        path = _file(key)
        entries = None
        if path is not None:
            try:
                data = pickle.loads(path.read_bytes())
                if isinstance(data, dict) and data.get("format") == _FORMAT:
                    entries = data["schemas"]
            except Exception:  # absent, unreadable or foreign: build as without a cache
                entries = None
        _loaded[key] = entries
    return _loaded[key]


#: pydantic names each model's definition in a schema ``module.Qualname:<id of the class>``.
_TYPE_REF = re.compile(r"([A-Za-z_][\w.]*):(\d+)")
#: ... and a generic or local class ``module.Qualname[...]:<id>...``: not cacheable.
_OTHER_TYPE_REF = re.compile(r"[A-Za-z_][\w]*\.[^:\s]+:\d{6,}")


def _find_class(path: str) -> tuple[str, str, type] | None:
    """``(module, qualname, class)`` for ``module.Qualname``, if a loaded module has it."""
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:i]))
        if module is None:
            continue
        obj: object = module
        for part in parts[i:]:
            obj = getattr(obj, part, None)
        if (
            isinstance(obj, type)
            and obj.__module__ == ".".join(parts[:i])
            and obj.__qualname__ == ".".join(parts[i:])
        ):
            return obj.__module__, obj.__qualname__, obj
        return None
    return None


class _Pickler(pickle.Pickler):
    """Keeps a definition name as (module, qualname): the id in it is this process's."""

    def persistent_id(self, obj: object) -> tuple[str, str, str] | None:
        if type(obj) is str and ":" in obj:
            match = _TYPE_REF.fullmatch(obj)
            if match:
                found = _find_class(match.group(1))
                if found is not None and id(found[2]) == int(match.group(2)):
                    return ("type-ref", found[0], found[1])
            if _OTHER_TYPE_REF.match(obj):
                raise pickle.PicklingError(f"a definition name that cannot be kept: {obj!r}")
        return None


class _Unpickler(pickle.Unpickler):
    """Names each definition with the id of the class in *this* process, as pydantic would."""

    def persistent_load(self, pid: object) -> str:
        if not (isinstance(pid, tuple) and len(pid) == 3 and pid[0] == "type-ref"):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        _, module_name, qualname = pid
        obj: object = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return f"{module_name}.{qualname}:{id(obj)}"


def install(cls: type[BaseModel]) -> bool:
    """Complete the deferred model ``cls`` from a cached schema; False when there is none.

    Does what pydantic's ``complete_model_class`` does after generating the schema:
    compiles the validator (through pydantic's plugin hook, as pydantic does, unless
    :data:`PLUGINS_ENV` switches every plugin off) and
    the serializer, and sets the computed fields, signature and completion flag.
    """
    if cache_dir() is None or not cls.__pydantic_fields_complete__:
        return False
    try:
        key = cache_key(cls)
        blob = (_entries(key) or {}).get(_class_id(cls))
        if blob is None:
            return False
        schema = _Unpickler(io.BytesIO(blob)).load()
        from pydantic._internal._config import ConfigWrapper
        from pydantic._internal._model_construction import set_deprecated_descriptors
        from pydantic._internal._signature import generate_pydantic_signature
        from pydantic._internal._utils import LazyClassAttribute
        from pydantic_core import SchemaSerializer, SchemaValidator

        config_wrapper = ConfigWrapper(cls.model_config, check=False)
        core_config = config_wrapper.core_config(title=cls.__name__)
        validator: Any
        if os.environ.get(PLUGINS_ENV) in PLUGINS_OFF:
            # what pydantic's hook returns without plugins, without loading its plugin
            # loader (which imports importlib.metadata, about 12 ms)
            validator = SchemaValidator(schema, core_config)
        else:
            from pydantic.plugin._schema_validator import create_schema_validator

            validator = create_schema_validator(
                schema,
                cls,
                cls.__module__,
                cls.__qualname__,
                "BaseModel",
                core_config,
                config_wrapper.plugin_settings,
            )
        serializer = SchemaSerializer(schema, core_config)
    except Exception:  # a stale or damaged entry: let pydantic build the model
        return False
    cls.__pydantic_computed_fields__ = {
        k: v.info for k, v in cls.__pydantic_decorators__.computed_fields.items()
    }
    set_deprecated_descriptors(cls)
    cls.__pydantic_core_schema__ = schema
    cls.__pydantic_validator__ = validator
    cls.__pydantic_serializer__ = serializer
    cls.__signature__ = LazyClassAttribute(
        "__signature__",
        partial(
            generate_pydantic_signature,
            init=cls.__init__,
            fields=cls.__pydantic_fields__,
            validate_by_alias=config_wrapper.validate_by_alias,
            extra=config_wrapper.extra,
        ),
    )
    cls.__pydantic_complete__ = True
    cls.__pydantic_on_complete__()
    return True


def remember(cls: type[BaseModel]) -> None:
    """Keep the schema pydantic just built for ``cls``; written to the cache at exit."""
    global _atexit_registered
    if cache_dir() is None or not cls.__pydantic_complete__:
        return
    try:
        key = cache_key(cls)
        if _class_id(cls) in (_entries(key) or {}):
            return
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(cls.__pydantic_core_schema__)
        blob = buffer.getvalue()
    except Exception:  # a schema with a lambda or a local class: no cache for this model
        return
    _pending.setdefault(key, {})[_class_id(cls)] = blob
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(flush)


def flush() -> None:
    """Write the schemas built in this process to the cache (atomically, merged)."""
    import tempfile  # only after a cold run: not on every start

    for key, new in list(_pending.items()):
        path = _file(key)
        if path is None or not new:
            continue
        _loaded.pop(key, None)
        entries = dict(_entries(key) or {})
        entries.update(new)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".site-schemas-")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump({"format": _FORMAT, "schemas": entries}, fh)
            os.replace(tmp, path)
        except OSError:  # read-only home, full disk: the next run builds again
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            continue
        _loaded[key] = entries
        del _pending[key]


def clear_memory() -> None:
    """Forget what this process read or built (tests switch cache folders)."""
    _loaded.clear()
    _pending.clear()
    _keys.clear()
