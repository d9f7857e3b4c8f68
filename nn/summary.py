"""`nn.summary(model, *example_inputs)`: a table of the model's modules and variables.

>>> import lamina, lamina.numpy as lnp
>>> from lamina import nn
>>> s = nn.summary(nn.MLP((4, 2)), lnp.ones((1, 3)))
>>> s.total_params
26
>>> print(s)
path     module  output        params                        count
-------  ------  ------------  ----------------------------  -----
<root>   MLP     float32[1,2]  -                                 0
Dense_0  Dense   float32[1,4]  bias f32[4], kernel f32[3,4]     16
Dense_1  Dense   float32[1,2]  bias f32[2], kernel f32[4,2]     10
-------  ------  ------------  ----------------------------  -----
total: 26 parameters (104 B) in 4 arrays
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

import lamina
from lamina import tree_util as tu
from lamina.nn import module as _m

__all__ = ["Summary", "summary"]

_SHORT = {"float32": "f32", "float16": "f16", "bfloat16": "bf16", "float64": "f64",
          "int32": "i32", "int64": "i64", "uint32": "u32", "int8": "i8", "uint8": "u8",
          "bool": "bool"}


def _aval(x: Any) -> str:
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{np.dtype(x.dtype).name}[{','.join(map(str, x.shape))}]"
    return type(x).__name__


def _short(x: Any) -> str:
    name = np.dtype(x.dtype).name
    return f"{_SHORT.get(name, name)}[{','.join(map(str, x.shape))}]"


@dataclasses.dataclass
class Summary:
    """Rows `(path, module, output, variables)` plus totals; `str()` is the table."""

    rows: list[dict]
    variables: dict
    total_params: int
    total_bytes: int
    total_arrays: int

    def __str__(self) -> str:
        head = ("path", "module", "output", "params", "count")
        body = []
        for r in self.rows:
            ps = ", ".join(f"{n} {_short(a)}" for n, a in r["params"]) or "-"
            extra = ", ".join(f"{c}/{n} {_short(a)}" for c, n, a in r["other"])
            if extra:
                ps = f"{ps}; {extra}"
            body.append((r["path"], r["module"], r["output"], ps, str(r["count"])))
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]

        def line(cells: tuple) -> str:
            return "  ".join(c.rjust(w) if i == 4 else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        sep = line(tuple("-" * w for w in widths))
        out = [line(head), sep, *(line(b) for b in body), sep,
               f"total: {self.total_params} parameters ({self.total_bytes} B) in "
               f"{self.total_arrays} arrays"]
        return "\n".join(out)

    __repr__ = __str__


def summary(model: _m.Module, *example_inputs: Any, rngs: Any = None, method: Any = None,
            train: bool = False, **kwargs: Any) -> Summary:
    """Trace `model.init` abstractly (nothing is computed) and list every module call:
    its path, class, output shape/dtype, its own variables and their element count.

    Args:
        model: the module.
        *example_inputs, **kwargs: as for `init` (arrays or `lamina.ShapeDtypeStruct`).
        rngs: init keys (default `PRNGKey(0)`).
        method, train: as for `init`.
    """
    rngs = lamina.random.PRNGKey(0) if rngs is None else rngs
    captured: list = []

    def run(rng_dict: dict, args: tuple, kw: dict) -> Any:
        outer = _m._Context(init=True, variables={}, rngs={}, train=train, mutable=True,
                            precision=None)
        outer.capture = captured
        st = _m._stack()
        st.append(outer)
        try:
            _, ctx = _m._run(model, method, args, kw, variables={}, rngs=rng_dict,
                             train=train, mutable=True, init=True, precision=None)
        finally:
            st.pop()
        return {k: v for k, v in ctx.variables.items() if v}

    shapes: list = []

    def capture_shapes(rng_dict: dict, args: tuple, kw: dict) -> Any:
        out = run(rng_dict, args, kw)
        shapes[:] = [(p, cls, tu.tree_map(_aval, o)) for p, cls, o in captured]
        return out

    variables = lamina.eval_shape(capture_shapes, _m._as_rngs(rngs, "init"),
                                  example_inputs, kwargs)
    seen: dict = {}
    for path, cls, out in shapes:
        seen.setdefault(path, (cls, out))
    rows = []
    for path, (cls, out) in sorted(seen.items(), key=lambda kv: (len(kv[0]) > 0, kv[0])):
        own = _m._get(variables.get("params", {}), path) or {}
        params = sorted((n, a) for n, a in own.items() if not isinstance(a, dict))
        other = []
        for col, tree in variables.items():
            if col == "params":
                continue
            node = _m._get(tree, path) or {}
            other += [(col, n, a) for n, a in sorted(node.items()) if not isinstance(a, dict)]
        outs = tu.tree_leaves(out)
        rows.append(dict(path=_m._path_str(path), module=cls,
                         output=", ".join(map(str, outs)) if outs else "-",
                         params=params, other=other,
                         count=sum(math.prod(a.shape) for _, a in params)))
    leaves = tu.tree_leaves(variables.get("params", {}))
    return Summary(rows=rows, variables=variables,
                   total_params=sum(math.prod(a.shape) for a in leaves),
                   total_bytes=sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize
                                   for a in leaves),
                   total_arrays=len(leaves))
