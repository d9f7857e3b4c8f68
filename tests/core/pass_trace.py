"""A trace that wraps every value in a tracer and evaluates eagerly: the code paths
lamina.numpy keeps for traced arguments run, and their results can be checked against
the eager ones. Shared by the numpy test files."""
import contextlib

import lamina.numpy as lnp
from lamina.interpreters.eval import eval_trace
from lamina.ir import Trace, Tracer, set_current_trace


class PassTrace(Trace):
    """Evaluates eagerly, keeping every result wrapped in a `PassTracer`."""

    def process_primitive(self, primitive, args, params):
        vals = [a.val if isinstance(a, PassTracer) else a for a in args]
        with set_current_trace(eval_trace):
            out = primitive.bind(*vals, **params)
        if primitive.multiple_results:
            return [PassTracer(self, o) for o in out]
        return PassTracer(self, out)


class PassTracer(Tracer):
    __slots__ = ("val",)

    def __init__(self, trace, val):
        self._trace = trace
        self.val = val

    @property
    def aval(self):
        return self.val.aval


@contextlib.contextmanager
def tracing():
    trace = PassTrace()
    with set_current_trace(trace):
        yield lambda x: PassTracer(trace, lnp.asarray(x))


__all__ = ["PassTrace", "PassTracer", "tracing"]
