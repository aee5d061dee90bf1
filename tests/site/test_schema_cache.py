"""The site models' schema cache (heatreuse.site.schema_cache): faster, never different.

Each check runs in its own Python process: a model is completed once per process, so
"built by pydantic" and "read from the cache" can only be compared across processes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: Runs in a child: loads the site files given, reports per file the error text (or OK and
#: a digest of the model), which models pydantic generated a schema for, and the core
#: schemas of the completed models, pickled (equal schemas unpickle to equal objects).
_CHILD = r"""
import json, pickle, sys
from pydantic._internal import _generate_schema as gs
generated = []
_orig = gs.GenerateSchema.generate_schema
def _spy(self, obj, *a, **k):
    if isinstance(obj, type) and obj.__module__.startswith("heatreuse."):
        generated.append(obj.__qualname__)
    return _orig(self, obj, *a, **k)
gs.GenerateSchema.generate_schema = _spy

from heatreuse.errors import SiteConfigError
from heatreuse.site import load_site_text
from heatreuse.site.base import SiteModel

results = []
for text in json.loads(sys.argv[1]):
    try:
        site = load_site_text(text, "site.yaml")
        results.append("OK " + site.model_dump_json())
    except SiteConfigError as exc:
        results.append(str(exc))

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

schemas = {
    f"{c.__module__}:{c.__qualname__}": c.__pydantic_core_schema__
    for c in set(subclasses(SiteModel)) if c.__pydantic_complete__
}
import re
from heatreuse.site import schema_cache
def refs(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from refs(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from refs(v)
    elif isinstance(value, str) and re.fullmatch(r"heatreuse\.[\w.]+:\d+", value):
        yield value
# a definition named with another process's class id would never match this one's
stale = sorted(
    ref for schema in schemas.values() for ref in refs(schema)
    if ref.rsplit(":", 1)[1] != str(id(schema_cache._find_class(ref.rsplit(":", 1)[0])[2]))
)
schema_cache.flush()
loader = "pydantic.plugin._loader" in sys.modules
sys.stdout.buffer.write(pickle.dumps((results, generated, schemas, stale, loader)))
"""

_POOL = (EXAMPLES / "pool.yaml").read_text()
#: The pool site and broken variants whose errors come from the models' validators.
_TEXTS = [
    _POOL,
    _POOL.replace("pool-potsdam", "pool potsdam!", 1),
    _POOL.replace("site:\n", "site:\n  colour: blue\n", 1),
]


def _run(cache: str, texts: list[str] = _TEXTS) -> tuple[list[str], list[str], dict[str, object]]:
    results, generated, schemas, _ = _run_child(cache, texts)
    return results, generated, schemas


def _run_child(
    cache: str, texts: list[str] = _TEXTS, env: dict[str, str] | None = None
) -> tuple[list[str], list[str], dict[str, object], bool]:
    """What a child process made of ``texts``, and whether it loaded pydantic's plugin loader."""
    import pickle

    env = {**os.environ, **(env or {}), "HEATREUSE_CACHE_DIR": cache}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(texts)],
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    results, generated, schemas, stale, loader = pickle.loads(proc.stdout)
    assert stale == []  # every definition is named with this process's class ids
    assert any(":" in str(schema) for schema in schemas.values())
    return results, generated, schemas, loader


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    cache = tmp_path_factory.mktemp("schema-cache")
    cold = _run(str(cache))
    files = sorted(p.name for p in cache.iterdir())
    warm = _run(str(cache))
    off = _run("off")
    return {"cache": cache, "files": files, "cold": cold, "warm": warm, "off": off}


def test_the_broken_variants_are_refused_by_the_models(runs: dict[str, object]) -> None:
    results = runs["off"][0]  # type: ignore[index]
    assert results[0].startswith("OK ")
    assert "site.id" in results[1] and "pattern" in results[1]
    assert "site.colour" in results[2]


def test_a_first_run_builds_and_writes_the_schemas(runs: dict[str, object]) -> None:
    _, generated, schemas = runs["cold"]  # type: ignore[misc]
    assert "Site" in generated
    assert "heatreuse.site.model:Site" in schemas
    files = runs["files"]
    assert len(files) == 1 and files[0].startswith("site-schemas-")  # type: ignore[index]


def test_a_warm_run_generates_no_schema_and_gets_the_same_ones(runs: dict[str, object]) -> None:
    results, generated, schemas = runs["warm"]  # type: ignore[misc]
    assert generated == []  # every site model came from the cache
    off_results, off_generated, off_schemas = runs["off"]  # type: ignore[misc]
    assert "Site" in off_generated
    assert results == off_results  # same models, same dumps, same error messages
    assert schemas.keys() == off_schemas.keys()
    for name, schema in off_schemas.items():
        assert _without_ids(schemas[name]) == _without_ids(schema), name


@pytest.mark.parametrize("plugins_off", ["__all__", "1", "true"])
def test_with_plugins_off_a_warm_run_skips_the_plugin_loader_and_gets_the_same_models(
    runs: dict[str, object], plugins_off: str
) -> None:
    """The console script switches pydantic's plugins off: the cache then compiles validators
    without pydantic's plugin hook (whose loader imports importlib.metadata), same models."""
    env = {"PYDANTIC_DISABLE_PLUGINS": plugins_off}
    results, generated, schemas, loader = _run_child(str(runs["cache"]), env=env)
    assert generated == [] and not loader
    off_results, _, off_schemas = runs["off"]  # type: ignore[misc]
    assert results == off_results
    assert schemas.keys() == off_schemas.keys()
    # plugins on (the default): the cache goes through pydantic's hook, as pydantic does
    assert _run_child(str(runs["cache"]), env={"PYDANTIC_DISABLE_PLUGINS": ""})[3]


def _without_ids(value: object) -> object:
    """A core schema with the ``id()`` that pydantic puts in each definition's name removed.

    pydantic names a model's definition ``module.Class:<id of the class object>``; the
    name only has to be unique within one schema, and the id differs between processes.
    """
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_ids(v) for v in value)
    if isinstance(value, str) and re.fullmatch(r"heatreuse\.[\w.]+:\d+", value):
        return value.rsplit(":", 1)[0]
    return value


def test_without_a_cache_nothing_is_written(runs: dict[str, object], tmp_path: Path) -> None:
    home = tmp_path / "cache-home"
    env = {**os.environ, "HEATREUSE_CACHE_DIR": "off", "XDG_CACHE_HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(_TEXTS[:1])],
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert not home.exists()


def test_a_damaged_cache_file_is_ignored(runs: dict[str, object], tmp_path: Path) -> None:
    cache = tmp_path / "damaged"
    cache.mkdir()
    for name in runs["files"]:  # type: ignore[attr-defined]
        (cache / name).write_bytes(b"not a pickle")
    results, generated, _ = _run(str(cache))
    assert results == runs["off"][0]  # type: ignore[index]
    assert "Site" in generated  # built by pydantic, as without a cache


def test_the_cache_key_follows_the_model_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heatreuse.site import schema_cache
    from heatreuse.site.model import Site

    files = schema_cache._source_files(Site)
    assert any(f.endswith("/site/model.py") for f in files)
    assert any(f.endswith("/site/monitoring.py") for f in files)  # a field's model
    copy = tmp_path / "model.py"
    copy.write_text(Path(files[0]).read_text())
    monkeypatch.setattr(schema_cache, "_keys", {})
    monkeypatch.setattr(schema_cache, "_source_files", lambda cls: [str(copy)])
    before = schema_cache.cache_key(Site)
    schema_cache._keys.clear()
    assert schema_cache.cache_key(Site) == before  # same source, same key
    schema_cache._keys.clear()
    copy.write_text(copy.read_text() + "\n# edited\n")
    assert schema_cache.cache_key(Site) != before
