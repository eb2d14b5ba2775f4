"""``model.summary()``: the table Keras users recognise, as text and as HTML."""

from __future__ import annotations

from typing import Any

import numpy as np


def _human_bytes(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} GB"  # pragma: no cover


def _build_if_shape_known(model: Any) -> None:
    """Build a model whose input shape was given (``input_shape=``, ``input_dim=``,
    ``Input``) before the table is drawn, as Keras does, so that it shows real shapes
    and parameter counts before ``compile``. The weights drawn now are the ones
    ``compile`` would have drawn (the same generator, in the same order)."""
    if not model.built and model.input_shape is not None and model.layers:
        model.build()


def _rows(model: Any) -> list[tuple[str, str, str]]:
    rows = []
    for layer in model.layers:
        shape = "?" if layer.output_shape is None else str((None, *layer.output_shape))
        count = str(layer.count_params()) if layer.built else "0 (unbuilt)"
        rows.append((f"{layer.name} ({type(layer).__name__})", shape, count))
    return rows


def _totals(model: Any) -> list[str]:
    itemsize = np.dtype(model.dtype).itemsize
    total = sum(layer.count_params() for layer in model.layers if layer.built)
    trainable = sum(spec.size for layer in model.layers if layer.trainable and layer.built
                    for spec in layer.param_specs if spec.trainable)
    frozen = total - trainable
    return [
        f" Total params: {total:,} ({_human_bytes(total * itemsize)})",
        f" Trainable params: {trainable:,} ({_human_bytes(trainable * itemsize)})",
        f" Non-trainable params: {frozen:,} ({_human_bytes(frozen * itemsize)})",
    ]


def summary_text(model: Any) -> str:
    """The Keras 3 summary table (box-drawing characters, ``None`` batch dimension)."""
    _build_if_shape_known(model)
    widths: tuple[int, ...] = (33, 24, 15)
    header = ("Layer (type)", "Output Shape", "Param #")
    rows = _rows(model)
    widths = tuple(
        max(w, max((len(r[i]) + 2 for r in rows), default=0)) for i, w in enumerate(widths)
    )

    def line(left: str, mid: str, right: str, fill: str) -> str:
        return left + mid.join(fill * w for w in widths) + right

    def cells(values: tuple[str, str, str], bar: str) -> str:
        name, shape, count = values
        return (
            f"{bar} {name:<{widths[0] - 2}} {bar} {shape:<{widths[1] - 2}} {bar} "
            f"{count:>{widths[2] - 2}} {bar}"
        )

    out = [f'Model: "{model.name}"', line("┏", "┳", "┓", "━"), cells(header, "┃"),
           line("┡", "╇", "┩", "━")]
    for i, row in enumerate(rows):
        out.append(cells(row, "│"))
        out.append(line("├", "┼", "┤", "─") if i < len(rows) - 1 else line("└", "┴", "┘", "─"))
    if not rows:
        out.append(line("└", "┴", "┘", "─"))
    out.extend(_totals(model))
    return "\n".join(out)


def summary_html(model: Any) -> str:
    """The same table as HTML, for Jupyter (``Sequential._repr_html_``)."""
    import html

    _build_if_shape_known(model)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in _rows(model)
    )
    totals = "<br>".join(html.escape(t.strip()) for t in _totals(model))
    return (
        f"<div><b>Model: {html.escape(model.name)}</b>"
        "<table><thead><tr><th>Layer (type)</th><th>Output Shape</th><th>Param #</th></tr></thead>"
        f"<tbody>{body}</tbody></table><p>{totals}</p></div>"
    )
