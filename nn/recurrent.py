"""Recurrent layers (flax.linen.recurrent): `LSTMCell`, `GRUCell`, and `RNN`, which scans
a cell over the time axis with `lax.scan` (the loop compiles once, whatever the length).

Cells follow Flax's gate layout and parameter names, so Flax parameters load unchanged:
LSTMCell has input projections `ii, if, ig, io` (no bias) and hidden projections
`hi, hf, hg, ho` (with bias); GRUCell has `ir, iz, in` (with bias) and `hr, hz` (no
bias), `hn` (with bias). Input kernels default to `lecun_normal`, recurrent kernels to
`orthogonal`, biases to zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lamina.numpy as lnp
from lamina import lax, random, tree_util
from lamina.nn import initializers
from lamina.nn.activations import sigmoid, tanh
from lamina.nn.linear import Dense
from lamina.nn.module import Module

__all__ = ["RNNCellBase", "LSTMCell", "GRUCell", "RNN", "Bidirectional"]


class RNNCellBase(Module):
    """The cell protocol: `__call__(carry, x) -> (carry, y)` for one time step, and
    `initialize_carry(rng, input_shape)` for the initial carry of inputs `(*batch, in)`."""

    def initialize_carry(self, rng: Any, input_shape: tuple[int, ...]) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.initialize_carry is not defined")

    @property
    def num_feature_axes(self) -> int:
        """The number of trailing feature axes of one step's input (1 for these cells)."""
        return 1


class LSTMCell(RNNCellBase):
    r"""Long short-term memory cell (flax.linen.LSTMCell).

    .. math::
        i = \sigma(W_{ii} x + W_{hi} h + b_{hi}), \quad
        f = \sigma(W_{if} x + W_{hf} h + b_{hf}), \\
        g = \tanh(W_{ig} x + W_{hg} h + b_{hg}), \quad
        o = \sigma(W_{io} x + W_{ho} h + b_{ho}), \\
        c' = f c + i g, \quad h' = o \tanh(c')

    The carry is `(c, h)`; the output is `h'`.

    Attributes:
        features: the hidden size.
        gate_fn / activation_fn: sigmoid / tanh by default.
        kernel_init / recurrent_kernel_init / bias_init: lecun_normal / orthogonal / zeros.
        dtype, param_dtype: compute and parameter dtypes.
        carry_init: the initializer of `initialize_carry` (zeros).

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> cell = nn.LSTMCell(features=3)
    >>> x = lnp.ones((2, 4))
    >>> carry = cell.initialize_carry(lamina.random.key(0), x.shape)
    >>> variables = cell.init(lamina.random.key(1), carry, x)
    >>> (c, h), y = cell.apply(variables, carry, x)
    >>> y.shape, sorted(variables["params"])[:2]
    ((2, 3), ['hf', 'hg'])
    """

    features: int
    gate_fn: Callable[..., Any] = sigmoid
    activation_fn: Callable[..., Any] = tanh
    kernel_init: Callable[..., Any] = initializers.lecun_normal()
    recurrent_kernel_init: Callable[..., Any] = initializers.orthogonal()
    bias_init: Callable[..., Any] = initializers.zeros
    dtype: Any = None
    param_dtype: Any = lnp.float32
    carry_init: Callable[..., Any] = initializers.zeros

    def __call__(self, carry: tuple[Any, Any], inputs: Any) -> tuple[tuple[Any, Any], Any]:
        """One step: `((c, h), x) -> ((c', h'), h')`."""
        c, h = carry
        hidden = h.shape[-1]

        def dense_i(name: str) -> Dense:
            return Dense(features=hidden, use_bias=False, kernel_init=self.kernel_init,
                         dtype=self.dtype, param_dtype=self.param_dtype, name=name)

        def dense_h(name: str) -> Dense:
            return Dense(features=hidden, use_bias=True,
                         kernel_init=self.recurrent_kernel_init, bias_init=self.bias_init,
                         dtype=self.dtype, param_dtype=self.param_dtype, name=name)

        i = self.gate_fn(dense_i("ii")(inputs) + dense_h("hi")(h))
        f = self.gate_fn(dense_i("if")(inputs) + dense_h("hf")(h))
        g = self.activation_fn(dense_i("ig")(inputs) + dense_h("hg")(h))
        o = self.gate_fn(dense_i("io")(inputs) + dense_h("ho")(h))
        new_c = f * c + i * g
        new_h = o * self.activation_fn(new_c)
        return (new_c, new_h), new_h

    def initialize_carry(self, rng: Any, input_shape: tuple[int, ...]) -> tuple[Any, Any]:
        """`(c, h)` of shape `(*batch, features)` for inputs of shape `(*batch, in)`."""
        shape = tuple(input_shape[:-1]) + (self.features,)
        k1, k2 = random.split(rng)
        return (self.carry_init(k1, shape, self.param_dtype),
                self.carry_init(k2, shape, self.param_dtype))


class GRUCell(RNNCellBase):
    r"""Gated recurrent unit cell (flax.linen.GRUCell).

    .. math::
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h), \quad
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h), \\
        n = \tanh(W_{in} x + b_{in} + r (W_{hn} h + b_{hn})), \quad
        h' = (1 - z) n + z h

    The carry and the output are `h'`.

    Attributes:
        features, gate_fn, activation_fn, kernel_init, recurrent_kernel_init, bias_init,
        dtype, param_dtype, carry_init: as in `LSTMCell`.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> cell = nn.GRUCell(features=3)
    >>> x = lnp.ones((2, 4))
    >>> h = cell.initialize_carry(lamina.random.key(0), x.shape)
    >>> new_h, y = cell.apply(cell.init(lamina.random.key(1), h, x), h, x)
    >>> new_h.shape
    (2, 3)
    """

    features: int
    gate_fn: Callable[..., Any] = sigmoid
    activation_fn: Callable[..., Any] = tanh
    kernel_init: Callable[..., Any] = initializers.lecun_normal()
    recurrent_kernel_init: Callable[..., Any] = initializers.orthogonal()
    bias_init: Callable[..., Any] = initializers.zeros
    dtype: Any = None
    param_dtype: Any = lnp.float32
    carry_init: Callable[..., Any] = initializers.zeros

    def __call__(self, carry: Any, inputs: Any) -> tuple[Any, Any]:
        """One step: `(h, x) -> (h', h')`."""
        h = carry
        hidden = h.shape[-1]

        def dense_i(name: str) -> Dense:
            return Dense(features=hidden, use_bias=True, kernel_init=self.kernel_init,
                         bias_init=self.bias_init, dtype=self.dtype,
                         param_dtype=self.param_dtype, name=name)

        def dense_h(name: str, use_bias: bool = False) -> Dense:
            return Dense(features=hidden, use_bias=use_bias,
                         kernel_init=self.recurrent_kernel_init, bias_init=self.bias_init,
                         dtype=self.dtype, param_dtype=self.param_dtype, name=name)

        r = self.gate_fn(dense_i("ir")(inputs) + dense_h("hr")(h))
        z = self.gate_fn(dense_i("iz")(inputs) + dense_h("hz")(h))
        n = self.activation_fn(dense_i("in")(inputs) + r * dense_h("hn", use_bias=True)(h))
        new_h = (1.0 - z) * n + z * h
        return new_h, new_h

    def initialize_carry(self, rng: Any, input_shape: tuple[int, ...]) -> Any:
        """`h` of shape `(*batch, features)` for inputs of shape `(*batch, in)`."""
        shape = tuple(input_shape[:-1]) + (self.features,)
        return self.carry_init(rng, shape, self.param_dtype)


def flip_sequences(inputs: Any, seq_lengths: Any, num_batch_dims: int,
                   time_major: bool) -> Any:
    """Reverse each sequence along time; with `seq_lengths`, only its first
    `seq_lengths[b]` steps are reversed (and come first), the padding follows.

    >>> import lamina.numpy as lnp
    >>> x = lnp.arange(4.0).reshape(1, 4)
    >>> flip_sequences(x, lnp.array([3]), num_batch_dims=1, time_major=False)
    Array([[2., 1., 0., 3.]], dtype=float32)
    """
    time_axis = 0 if time_major else num_batch_dims
    steps = inputs.shape[time_axis]
    if seq_lengths is None:
        return lnp.flip(inputs, axis=time_axis)
    lengths = lnp.expand_dims(lnp.asarray(seq_lengths), time_axis)
    idxs = lnp.arange(steps - 1, -1, -1)
    idxs = idxs.reshape([steps] + [1] * num_batch_dims if time_major
                        else [1] * num_batch_dims + [steps])
    idxs = (idxs + lengths) % steps
    idxs = idxs.reshape(tuple(idxs.shape) + (1,) * (inputs.ndim - idxs.ndim))
    return lnp.take_along_axis(inputs, idxs, axis=time_axis)


class RNN(Module):
    """Run a cell over a sequence with `lax.scan` (flax.linen.RNN).

    Inputs are `(*batch, time, features)` (or `(time, *batch, features)` when
    `time_major`). The cell's parameters are shared over the time steps.

    Attributes:
        cell: an `RNNCellBase` (e.g. `LSTMCell(features=32)`).
        time_major: the time axis is 0 instead of the one before the features.
        return_carry: return `(final_carry, outputs)` instead of the outputs.
        reverse: process the sequence from its end (the outputs are in processing order
            unless `keep_order`).
        keep_order: with `reverse`, flip the outputs back to the input order.
        unroll: time steps per compiled loop trip.

    The call also takes `initial_carry`, `init_key` (for the cell's `initialize_carry`),
    `seq_lengths` (per-example valid lengths: the final carry is the one after each
    example's last valid step, and `reverse` reverses only the valid prefix), and
    per-call overrides of `return_carry`, `time_major`, `reverse`, `keep_order`.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> rnn = nn.RNN(nn.GRUCell(features=4))
    >>> x = lnp.ones((2, 7, 3))                   # (batch, time, features)
    >>> variables = rnn.init(lamina.random.key(0), x)
    >>> rnn.apply(variables, x).shape
    (2, 7, 4)
    """

    cell: Module
    time_major: bool = False
    return_carry: bool = False
    reverse: bool = False
    keep_order: bool = False
    unroll: int = 1

    def __call__(self, inputs: Any, *, initial_carry: Any = None, init_key: Any = None,
                 seq_lengths: Any = None, return_carry: bool | None = None,
                 time_major: bool | None = None, reverse: bool | None = None,
                 keep_order: bool | None = None) -> Any:
        """Scan the cell over time; see the class docstring."""
        return_carry = self.return_carry if return_carry is None else return_carry
        time_major = self.time_major if time_major is None else time_major
        reverse = self.reverse if reverse is None else reverse
        keep_order = self.keep_order if keep_order is None else keep_order
        inputs = lnp.asarray(inputs)
        n_feat = getattr(self.cell, "num_feature_axes", 1)
        if inputs.ndim < n_feat + 1:
            raise ValueError(f"nn.RNN: inputs of shape {tuple(inputs.shape)} need a time axis "
                             f"and {n_feat} feature axis (rank >= {n_feat + 1})")
        time_axis = 0 if time_major else inputs.ndim - (n_feat + 1)
        batch_dims = (inputs.shape[1:-n_feat] if time_major else inputs.shape[:time_axis])
        if seq_lengths is not None:
            seq_lengths = lnp.asarray(seq_lengths)
            if tuple(seq_lengths.shape) != tuple(batch_dims):
                raise ValueError(f"nn.RNN: seq_lengths must have the batch shape "
                                 f"{tuple(batch_dims)}, got {tuple(seq_lengths.shape)}")
        if reverse:
            inputs = flip_sequences(inputs, seq_lengths, len(batch_dims), time_major)
        if initial_carry is None:
            key = random.key(0) if init_key is None else init_key
            step_shape = inputs.shape[:time_axis] + inputs.shape[time_axis + 1:]
            initial_carry = self.cell.initialize_carry(key, step_shape)
        xs = lnp.moveaxis(inputs, time_axis, 0)
        cell = self.cell
        if self.is_initializing():
            # NOTE: create the cell's parameters once, outside the loop; inside it they are
            # read (closed over), so the scan body never creates variables.
            cell(initial_carry, xs[0])

        def step(carry: Any, x_t: tuple[Any, Any]) -> tuple[Any, Any]:
            x, t = x_t
            new_carry, y = cell(carry, x)
            if seq_lengths is not None:
                # NOTE: past an example's length its carry stops changing, so the final
                # carry is the one after its last valid step.
                valid = t < seq_lengths
                new_carry = tree_util.tree_map(
                    lambda new, old: lnp.where(
                        valid.reshape(valid.shape + (1,) * (new.ndim - valid.ndim)),
                        new, old), new_carry, carry)
            return new_carry, y

        steps = lnp.arange(xs.shape[0], dtype=lnp.int32)
        carry, ys = lax.scan(step, initial_carry, (xs, steps), unroll=self.unroll)
        outputs = tree_util.tree_map(lambda y: lnp.moveaxis(y, 0, time_axis), ys)
        if reverse and keep_order:
            outputs = tree_util.tree_map(
                lambda y: flip_sequences(y, seq_lengths, len(batch_dims), time_major), outputs)
        return (carry, outputs) if return_carry else outputs


class Bidirectional(Module):
    """Run `forward_rnn` forwards and `backward_rnn` backwards (outputs kept in input
    order) and merge their outputs with `merge_fn` (default: concatenate features).

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> bi = nn.Bidirectional(nn.RNN(nn.GRUCell(3)), nn.RNN(nn.GRUCell(3)))
    >>> x = lnp.ones((2, 5, 4))
    >>> bi.apply(bi.init(lamina.random.key(0), x), x).shape
    (2, 5, 6)
    """

    forward_rnn: Module
    backward_rnn: Module
    merge_fn: Callable[[Any, Any], Any] = lambda a, b: lnp.concatenate([a, b], axis=-1)
    time_major: bool = False
    return_carry: bool = False

    def __call__(self, inputs: Any, *, initial_carry: Any = None, init_key: Any = None,
                 seq_lengths: Any = None, return_carry: bool | None = None,
                 time_major: bool | None = None) -> Any:
        """Both directions over `inputs`; the carry is `(forward, backward)`."""
        time_major = self.time_major if time_major is None else time_major
        return_carry = self.return_carry if return_carry is None else return_carry
        k_fwd = k_bwd = None
        if init_key is not None:
            k_fwd, k_bwd = random.split(init_key)
        c_fwd = c_bwd = None
        if initial_carry is not None:
            c_fwd, c_bwd = initial_carry
        carry_f, out_f = self.forward_rnn(inputs, initial_carry=c_fwd, init_key=k_fwd,
                                          seq_lengths=seq_lengths, return_carry=True,
                                          time_major=time_major, reverse=False)
        carry_b, out_b = self.backward_rnn(inputs, initial_carry=c_bwd, init_key=k_bwd,
                                           seq_lengths=seq_lengths, return_carry=True,
                                           time_major=time_major, reverse=True,
                                           keep_order=True)
        outputs = tree_util.tree_map(self.merge_fn, out_f, out_b)
        return ((carry_f, carry_b), outputs) if return_carry else outputs
