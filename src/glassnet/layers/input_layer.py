"""``InputLayer``: Keras's name for the object that declares the input shape."""

from __future__ import annotations

from typing import Any

from glassnet.layers.input import Input


class InputLayer(Input):
    """``InputLayer(shape=(784,))`` or Keras 2's ``InputLayer(input_shape=(784,))``.

    The same as :class:`~glassnet.layers.Input`: it declares the shape of one
    example (without the batch dimension) at the start of a ``Sequential`` model and
    does not appear in ``model.layers`` (as in Keras 3).

    Parameters
    ----------
    shape : tuple of int
        The shape of one example, e.g. ``(n_features,)``.
    input_shape : tuple of int
        Keras 2's name for ``shape``; give one of the two.
    batch_size : int, optional
        Accepted for Keras compatibility and ignored: any batch size works.
    name : str, optional
    """

    def __init__(self, shape: Any = None, batch_size: int | None = None, name: str | None = None,
                 input_shape: Any = None) -> None:
        if (shape is None) == (input_shape is None):
            raise ValueError(
                "InputLayer needs the shape of one example: give shape=(n_features,) (or Keras 2's "
                f"input_shape=), exactly one of them; got shape={shape!r}, input_shape={input_shape!r}"
            )
        super().__init__(shape if shape is not None else input_shape, name=name)
