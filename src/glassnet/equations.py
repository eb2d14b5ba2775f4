"""The notation every component writes its mathematics in, and :class:`Equation`.

Layers, activations, losses and optimizers state their own equations (plain text, with
LaTeX next to it); :mod:`glassnet.explain` only collects and prints them. The plain
text uses the articles' notation: ``A[l]`` is the output of layer ``l`` (``A[0] = X``),
``·`` a matrix product, ``*`` an elementwise product, ``ᵀ`` a transpose, ``Σ_rows`` a
sum over the examples (the rows) of a batch of ``m``.

A loss writes its gradient for *any* output layer, with ``A`` the network's output,
``Y`` the targets and ``k`` the number of output units (``∂l/∂A = 2 (A - Y) / k``);
:func:`at_output` puts in the layer's index and ``k``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Equation", "at_output", "format_shape", "shape_product", "to_latex"]


def format_shape(shape: tuple[Any, ...]) -> str:
    """``(m, 2)`` for ``('m', 2)``, ``(4,)`` for ``(4,)``."""
    items = [str(size) for size in shape]
    return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"


def shape_product(
    *factors: tuple[Any, ...], result: tuple[Any, ...], plus: tuple[Any, ...] | None = None
) -> str:
    """``(m, 2)·(2, 4) + (4,) -> (m, 4)``: the shapes an equation combines, and what it gives."""
    text = "·".join(format_shape(shape) for shape in factors)
    if plus is not None:
        text += f" + {format_shape(plus)}"
    return f"{text} -> {format_shape(result)}"


_LATEX_SYMBOLS = {
    "ᵀ": r"^\top", "·": r" \cdot ", " * ": r" \odot ", "Σ_rows": r"\sum_{\text{rows}}",
    "Σ_k": r"\sum_k", "Σ": r"\sum", "->": r"\to", ":=": r"\leftarrow", "²": "^2",
    "∂": r"\partial ", "α": r"\alpha", "β1": r"\beta_1", "β2": r"\beta_2", "ε": r"\epsilon",
    "ρ": r"\rho", "μ": r"\mu", "λ": r"\lambda", "θ": r"\theta", "Δ": r"\Delta",
    "δ": r"\delta", "σ": r"\sigma", "≤": r"\le", "ḡ": r"\bar{g}", "Π": r"\Pi",
}
_LATEX_FUNCTIONS = re.compile(
    r"\b(relu|sigmoid|tanh|softmax|linear|onehot|sign|clip|max|log|flatten|reshape|mask)\b"
)


def to_latex(text: str) -> str:
    """The plain-text notation of glassnet's equations as LaTeX.

    ``A[0]ᵀ`` -> ``A^{[0]\\top}``, ``W[1]`` -> ``W^{[1]}``, ``·`` -> ``\\cdot``,
    ``*`` -> ``\\odot`` (elementwise), ``Σ_rows`` -> ``\\sum_{\\text{rows}}``, ``√x`` -> ``\\sqrt{x}``.
    """
    text = text.replace("m̂", r"\hat{m}").replace("v̂", r"\hat{v}")
    text = re.sub(r"√\(([^()]*)\)", r"\\sqrt{\1}", text)
    text = re.sub(r"√(\\hat\{\w\}|\w+)", r"\\sqrt{\1}", text)
    text = re.sub(r"_\(([^()]*)\)", r"_{\1}", text)
    text = re.sub(r"([A-Za-z]+)\[([\w-]+)\]ᵀ", r"\1^{[\2]\\top}", text)
    text = re.sub(r"([A-Za-z]+)\[([\w-]+)\]", r"\1^{[\2]}", text)
    for old, new in _LATEX_SYMBOLS.items():
        text = text.replace(old, new)
    return _LATEX_FUNCTIONS.sub(r"\\mathrm{\1}", text)


@dataclass
class Equation:
    """One equation: the mathematics, the shapes it combines, a remark, and its LaTeX.

    ``str(equation)`` is ``"<math>   <shapes>"``, e.g.
    ``Z[1] = A[0]·W[1] + b[1]   (m, 2)·(2, 4) + (4,) -> (m, 4)``. ``latex`` defaults to
    :func:`to_latex` of ``math``.
    """

    math: str
    shapes: str = ""
    note: str = ""
    latex: str = ""

    def __post_init__(self) -> None:
        if not self.latex:
            self.latex = to_latex(self.math)

    @property
    def lhs(self) -> str:
        """What the equation defines (``'Z[1]'``), or the whole text of a remark."""
        return self.math.split(" = ", 1)[0].split(" += ", 1)[0]

    @property
    def rhs(self) -> str:
        """How it is computed (``'A[0]·W[1] + b[1]'``); empty for a remark."""
        return self.math.split(" = ", 1)[1] if " = " in self.math else ""

    def __str__(self) -> str:
        return f"{self.math}   {self.shapes}" if self.shapes else self.math


_OUTPUT = re.compile(r"(?<![\w\\\[])A(?![\w\[])")
_LATEX_K = re.compile(r"\\tfrac\{(\d+)\}\{k\}\s*")


def at_output(formula: str, l: int, k: int, *, latex: bool = False) -> str:
    """A loss's formula for output layer ``l`` with ``k`` units: ``A`` -> ``A[l]``, ``k`` -> its value.

    ``at_output('2 (A - Y) / k', 3, 2)`` is ``'2 (A[3] - Y) / 2'``; with ``k = 1`` the
    division goes (``'(A - Y) / k'`` -> ``'A[3] - Y'``). For LaTeX (``latex=True``), ``A``
    becomes ``A^{[l]}`` and ``\\tfrac{c}{k}`` becomes ``\\tfrac{c}{k}`` with ``k``'s value.
    """
    if latex:
        formula = _OUTPUT.sub(f"A^{{[{l}]}}", formula)

        def factor(match: re.Match[str]) -> str:
            if k != 1:
                return rf"\tfrac{{{match.group(1)}}}{{{k}}}"
            return "" if match.group(1) == "1" else match.group(1)

        return _LATEX_K.sub(factor, formula)
    formula = _OUTPUT.sub(f"A[{l}]", formula)
    if k != 1:
        return formula.replace(" / k", f" / {k}")
    whole = re.fullmatch(r"\((.*)\) / k", formula)
    if whole and "(" not in whole.group(1):
        return whole.group(1)
    return formula.replace(" / k", "")
