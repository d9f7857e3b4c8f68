"""Accelerator backends: finding PJRT plugins without importing jax, and choosing the
platform lamina runs on.

A PJRT plugin is a shared library exporting `GetPjrtApi`; jaxlib loads it by name
(`_jaxlib.load_plugin`) and makes a client for it. lamina finds the libraries where
jax's wheels install them, but never runs those packages' Python code (their
`__init__` imports jax):

* `LAMINA_PJRT_PLUGIN_<NAME>=/path/to/lib.so` (lamina's override, e.g.
  `LAMINA_PJRT_PLUGIN_CUDA`), and jax's `PJRT_NAMES_AND_LIBRARY_PATHS=name:path,...`
  (a path may also be a JSON file with `library_path` and `create_options`, as in jax);
* packages of the `jax_plugins` namespace on `sys.path`: `jax-cuda12-pjrt` /
  `jax-cuda13-pjrt` install `jax_plugins/xla_cuda12/xla_cuda_plugin.so` (ROCm:
  `xla_rocm7/xla_rocm_plugin.so`); any `jax_plugins/<pkg>/xla_<name>_plugin.so` is
  plugin `<name>`;
* TPU: `$TPU_LIBRARY_PATH`, else `libtpu/libtpu.so` of the `libtpu` wheel;
* only when a requested platform is not found otherwise (the scan reads every
  installed distribution's metadata, ~0.1 s): modules named by `jax_plugins` entry
  points.

Platform choice: `LAMINA_PLATFORMS=cuda,cpu` (a comma list in priority order, like
`JAX_PLATFORMS`; `gpu` means cuda or rocm) makes the first entry the default backend
and allows only the listed ones; a listed platform that cannot be loaded is an error
naming what was searched and the fix. Unset, the default is the first of tpu, cuda,
rocm (then other plugins) whose library is installed and whose hardware is present,
else the CPU; a CPU-only machine pays a few directory look-ups (~0.1 ms) once.

>>> from lamina.backend import plugins
>>> plugins.parse_platforms(" cuda , cpu ")
['cuda', 'cpu']
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import sys
from typing import Any, Callable, Iterable, Mapping

GPU_PLATFORMS = ("cuda", "rocm")
ALIASES = {"gpu": GPU_PLATFORMS}
DEFAULT_ORDER = ("tpu", "cuda", "rocm")
"""Accelerators in the order the default backend is chosen from (before the CPU)."""

_PLUGIN_LIBRARY = re.compile(r"^xla_(\w+?)_plugin\.so$")
_OVERRIDE_PREFIX = "LAMINA_PJRT_PLUGIN_"


@dataclasses.dataclass(frozen=True)
class Plugin:
    """A PJRT plugin library lamina can load: `name` is the platform ('cuda', 'rocm',
    'tpu', ...), `source` says where it was found (for messages), `options` are extra
    client create options (from a JSON config)."""

    name: str
    library_path: str
    source: str
    options: tuple[tuple[str, Any], ...] = ()


# -- finding libraries ----------------------------------------------------------------


def _path_dirs(parts: Iterable[str]) -> list[str]:
    """Every `sys.path` entry's `<entry>/<parts...>` that is a directory, in order,
    found without importing anything (so no package `__init__` runs)."""
    out = []
    for entry in sys.path:
        if not isinstance(entry, str):
            continue
        d = os.path.join(entry or os.getcwd(), *parts)
        if os.path.isdir(d) and d not in out:
            out.append(d)
    return out


def _version_key(package: str) -> tuple[int, str]:
    # NOTE: with both xla_cuda12 and xla_cuda13 installed, the newer CUDA wins.
    digits = re.findall(r"\d+", package)
    return (-int(digits[-1]) if digits else 0, package)


def _plugins_in(directory: str, source: str) -> list[Plugin]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [Plugin(m.group(1), os.path.join(directory, f), source)
            for f in names if (m := _PLUGIN_LIBRARY.match(f))]


def package_plugins() -> list[Plugin]:
    """Plugins installed as packages of the `jax_plugins` namespace (jax's wheels)."""
    found = []
    for root in _path_dirs(["jax_plugins"]):
        try:
            packages = [p for p in os.listdir(root) if os.path.isdir(os.path.join(root, p))]
        except OSError:
            continue
        for package in sorted(packages, key=_version_key):
            found += _plugins_in(os.path.join(root, package),
                                 f"package jax_plugins.{package} in {root}")
    return found


def _entry_point_modules() -> list[str]:
    from importlib.metadata import entry_points
    return [ep.value.split(":")[0].strip() for ep in entry_points(group="jax_plugins")]


def entry_point_plugins() -> list[Plugin]:
    """Plugins whose module is named by a `jax_plugins` entry point (slow: reads the
    metadata of every installed distribution)."""
    found = []
    for module in _entry_point_modules():
        for d in _path_dirs(module.split(".")):
            found += _plugins_in(d, f"entry point jax_plugins -> {module} in {d}")
    return found


def tpu_plugins(environ: Mapping[str, str] = os.environ) -> list[Plugin]:
    """libtpu: `$TPU_LIBRARY_PATH` (if it is a file), then the `libtpu` wheel."""
    found = []
    path = environ.get("TPU_LIBRARY_PATH")
    if path and os.path.isfile(path):
        found.append(Plugin("tpu", path, "TPU_LIBRARY_PATH"))
    for d in _path_dirs(["libtpu"]):
        lib = os.path.join(d, "libtpu.so")
        if os.path.isfile(lib):
            found.append(Plugin("tpu", lib, f"package libtpu in {os.path.dirname(d)}"))
    return found


def _from_path_or_config(name: str, path: str, source: str) -> Plugin:
    if not path.endswith(".json"):
        return Plugin(name, path, source)
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        library = config["library_path"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{source}: PJRT plugin config {path!r} is not a JSON object with "
                         f"a 'library_path' field ({type(e).__name__}: {e}); write "
                         '{"library_path": "/path/to/plugin.so", "create_options": {...}}'
                         ) from None
    options = config.get("create_options") or {}
    if not isinstance(options, dict):
        raise ValueError(f"{source}: 'create_options' in {path!r} must be a JSON object, "
                         f"got {options!r}")
    return Plugin(name, library, f"{source} (config {path})", tuple(sorted(options.items())))


def override_plugins(environ: Mapping[str, str] = os.environ) -> list[Plugin]:
    """Plugins named by environment variables: `LAMINA_PJRT_PLUGIN_<NAME>=path`, then
    jax's `PJRT_NAMES_AND_LIBRARY_PATHS=name1:path1,name2:path2`."""
    found = []
    for var in sorted(environ):
        if var.startswith(_OVERRIDE_PREFIX) and environ[var].strip():
            name = var[len(_OVERRIDE_PREFIX):].lower()
            found.append(_from_path_or_config(name, environ[var].strip(), var))
    spec = environ.get("PJRT_NAMES_AND_LIBRARY_PATHS", "").strip()
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, sep, path = item.partition(os.pathsep)
        if not sep or not name or not path:
            raise ValueError(
                f"PJRT_NAMES_AND_LIBRARY_PATHS={spec!r}: entry {item!r} is not "
                f"'name{os.pathsep}path'; write e.g. 'cuda{os.pathsep}/opt/xla_cuda_plugin.so'")
        found.append(_from_path_or_config(name.strip().lower(), path.strip(),
                                          "PJRT_NAMES_AND_LIBRARY_PATHS"))
    return found


def find_plugins(name: str | None = None, *, thorough: bool = False,
                 environ: Mapping[str, str] = os.environ) -> list[Plugin]:
    """Every plugin library found (of platform `name`, or all), best first: environment
    overrides, then packages, then libtpu; `thorough` adds entry points.

    >>> find_plugins("no-such-platform")
    []
    """
    found = override_plugins(environ) + package_plugins() + tpu_plugins(environ)
    if thorough:
        found += entry_point_plugins()
    if name is not None:
        found = [p for p in found if p.name == name]
    return found


def searched(name: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    """Where lamina looks for plugin `name` (for error messages)."""

    def shown(var: str, absent: str = "unset") -> str:
        return f"${var} ({'set to ' + repr(environ[var]) if environ.get(var) else absent})"

    roots = _path_dirs(["jax_plugins"])
    places = [shown(_OVERRIDE_PREFIX + name.upper()), shown("PJRT_NAMES_AND_LIBRARY_PATHS"),
              "jax_plugins/*/xla_<name>_plugin.so on sys.path ("
              + (", ".join(roots) if roots else
                 f"no jax_plugins directory in {len(sys.path)} sys.path entries") + ")",
              "modules of 'jax_plugins' entry points"]
    if name == "tpu":
        tpu = environ.get("TPU_LIBRARY_PATH")
        places.append("$TPU_LIBRARY_PATH ("
                      + (f"set to {tpu!r}, not a file" if tpu else "unset") + ")")
        places.append("libtpu/libtpu.so on sys.path (the libtpu wheel)")
    return places


# The CUDA libraries of the `nvidia-*` wheels (`jax-cuda12-plugin[with-cuda]`), by
# wheel directory under `nvidia/`: CUDA 12 wheels, then CUDA 13's single `cu13` wheel.
_NVIDIA_LIBRARIES = (
    ("cuda_runtime", "libcudart.so.12"), ("cu13", "libcudart.so.13"),
    ("cuda_nvrtc", "libnvrtc.so.12"), ("cu13", "libnvrtc.so.13"),
    ("cublas", "libcublas.so.12"), ("cublas", "libcublasLt.so.12"),
    ("cu13", "libcublas.so.13"), ("cu13", "libcublasLt.so.13"),
    ("nccl", "libnccl.so.2"), ("cuda_cupti", "libcupti.so.12"), ("cu13", "libcupti.so.13"),
    ("cusparse", "libcusparse.so.12"), ("cusolver", "libcusolver.so.11"),
    ("cu13", "libcusolver.so.12"), ("cufft", "libcufft.so.11"), ("cu13", "libcufft.so.12"),
    ("nvshmem", "libnvshmem_host.so.3"), ("cudnn", "libcudnn.so.9"),
)


def preload_nvidia_libraries() -> list[str]:
    """Load the CUDA libraries installed as `nvidia-*` wheels before the CUDA plugin, as
    jax does, so that the plugin's own look-ups find these copies (absent ones are left
    to the system's library path). Returns the files loaded."""
    import ctypes
    loaded = []
    for package, library in _NVIDIA_LIBRARIES:
        for d in _path_dirs(["nvidia", package, "lib"]):
            path = os.path.join(d, library)
            if os.path.isfile(path):
                try:
                    ctypes.CDLL(path)
                except OSError:
                    continue
                loaded.append(path)
                break
    return loaded


def install_hint(name: str) -> str:
    """How to make plugin `name` available."""
    import jaxlib
    version = jaxlib.__version__
    if name == "cuda":
        return (f'pip install "jax-cuda12-plugin[with-cuda]=={version}" (CUDA 12; or '
                f"jax-cuda13-plugin; the plugin must match jaxlib {version}), or point "
                "LAMINA_PJRT_PLUGIN_CUDA at an xla_cuda_plugin.so")
    if name == "rocm":
        return (f'pip install "jax-rocm7-pjrt=={version}" (matching jaxlib {version}), or '
                "point LAMINA_PJRT_PLUGIN_ROCM at an xla_rocm_plugin.so")
    if name == "tpu":
        return "pip install libtpu (on a Cloud TPU VM), or set TPU_LIBRARY_PATH to libtpu.so"
    known = ", ".join(["cpu", *DEFAULT_ORDER, *ALIASES])
    return (f"{name!r} is none of lamina's known platforms ({known}); for another PJRT "
            f"plugin set LAMINA_PJRT_PLUGIN_{name.upper()}=/path/to/the/plugin.so (a "
            "library exporting GetPjrtApi)")


# -- hardware presence (only consulted for the default choice) ------------------------


def _tpu_chips() -> bool:
    for vendor in glob.glob("/sys/bus/pci/devices/*/vendor"):
        try:
            with open(vendor, encoding="ascii") as f:
                if f.read().strip() == "0x1ae0":  # Google's PCI vendor id
                    return True
        except OSError:
            continue
    return bool(glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*"))


def hardware_present(name: str) -> bool | None:
    """Whether the devices of platform `name` seem present (None: lamina cannot tell).

    Cheap checks of device files, as jax makes: a CUDA plugin installed on a machine
    without an NVIDIA GPU is skipped instead of failing the default choice.
    """
    if name == "cuda":
        return any(os.path.exists(p) for p in ("/dev/nvidia0", "/dev/nvidiactl", "/dev/dxg"))
    if name == "rocm":
        return os.path.exists("/dev/kfd")
    if name == "tpu":
        return _tpu_chips()
    return None


# -- choosing platforms ---------------------------------------------------------------


def parse_platforms(value: str | None) -> list[str] | None:
    """`LAMINA_PLATFORMS`' value as a list of names (None when unset or empty)."""
    if value is None or not value.strip():
        return None
    names = [s.strip().lower() for s in value.split(",")]
    if not all(names):
        raise ValueError(f"LAMINA_PLATFORMS={value!r} has an empty entry; write a comma "
                         "list of platforms in priority order, e.g. 'cuda,cpu'")
    return names


def requested_platforms(environ: Mapping[str, str] = os.environ) -> list[str] | None:
    return parse_platforms(environ.get("LAMINA_PLATFORMS"))


def default_candidates(plugins: Iterable[Plugin],
                       hardware: Callable[[str], bool | None] = hardware_present
                       ) -> list[str]:
    """The accelerator platforms to try, in order, when LAMINA_PLATFORMS is unset: those
    with a library found whose hardware is not known to be absent (the CPU comes
    after them)."""
    names = list(dict.fromkeys(p.name for p in plugins if p.name != "cpu"))
    ordered = [n for n in DEFAULT_ORDER if n in names] + sorted(
        n for n in names if n not in DEFAULT_ORDER)
    return [n for n in ordered if hardware(n) is not False]


def client_options(plugin: Plugin, gpu_options: Callable[[], dict[str, Any]],
                   environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The create options lamina passes to the plugin's client, as jax does: the GPU
    allocator settings for cuda/rocm (`platform_name` 'ROCM' for ROCm), visible devices
    (`LAMINA_VISIBLE_DEVICES=0,1`, else jax's `JAX_CUDA_VISIBLE_DEVICES` /
    `JAX_ROCM_VISIBLE_DEVICES`), then a JSON config's `create_options`."""
    options: dict[str, Any] = {}
    if plugin.name in GPU_PLATFORMS:
        options.update(gpu_options())
        if plugin.name == "rocm":
            options["platform_name"] = "ROCM"
        var = ("LAMINA_VISIBLE_DEVICES" if environ.get("LAMINA_VISIBLE_DEVICES")
               else f"JAX_{plugin.name.upper()}_VISIBLE_DEVICES")
        visible = environ.get(var)
        if visible and visible.strip().lower() != "all":
            try:
                options["visible_devices"] = [int(v) for v in visible.split(",")]
            except ValueError:
                raise ValueError(f"{var}={visible!r} must be a comma list of device "
                                 "numbers, e.g. '0,1', or 'all'") from None
    options.update(dict(plugin.options))
    return options
