"""The ``glassnet`` command: ``glassnet demo circles``, ``glassnet explain model.glassnet``, ...

Every problem with a command line (a bad number, a missing or damaged file, a missing
optional extra, a folder that cannot be written) is one line on stderr naming the cause
and the fix, and exit status 2 (argparse's convention), found before any training or
writing starts.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from glassnet._validation import check_int
from glassnet.playground import add_parser as add_playground_parser

#: The optional extras the commands use, and the modules each provides.
EXTRAS = {"viz": ("matplotlib", "PIL"), "onnx": ("onnx",)}


class CommandError(Exception):
    """A problem with the command line: printed as ``glassnet <command>: error: <message>``."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _number(name: str, minimum: int | None) -> Callable[[str], int]:
    """An argparse ``type`` for an integer option, checked as the API checks it."""

    def parse(text: str) -> int:
        try:
            return check_int(name, int(text), minimum=minimum)
        except ValueError as exc:  # not an integer, or below the minimum
            bound = "" if minimum is None else f" >= {minimum}"
            raise argparse.ArgumentTypeError(f"expected an integer{bound}, got {text!r}") from exc

    return parse


def require_extra(extra: str, purpose: str) -> None:
    """Raise :class:`CommandError` naming the pip command when ``extra``'s modules are missing."""
    missing = []
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise CommandError(f"{purpose} needs the {extra} extra ({', '.join(missing)} not installed): "
                           f'pip install "glassnet[{extra}]"')


def _check_folder_writable(option: str, folder: str) -> None:
    """``folder`` exists and can be written, or can be created (its nearest existing
    ancestor is a folder that can be written): tested by writing a temporary file."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise CommandError(f"{option} {folder!r} cannot be a folder: {existing!r} is a file")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise CommandError(f"{option} {folder!r}: cannot write in {existing!r} ({exc.strerror or exc}); "
                           "choose a folder you can write to") from None


def _load(path: str, compile: bool) -> Any:
    """The model saved at ``path``; a missing, unreadable or damaged file is a CommandError."""
    from glassnet.models import load_model
    from glassnet.saving import ModelFileError

    try:
        return load_model(path, compile=compile)
    except FileNotFoundError:
        raise CommandError(f"no model file at {path!r}") from None
    except (ModelFileError, OSError, ValueError, ImportError) as exc:
        # ImportError: the reader's optional extra (h5py, onnx) is missing; its message names it
        raise CommandError(str(exc)) from None


#: The loss a model read from a Keras or ONNX file is compiled with when --loss is not given.
_LOSS_FOR_OUTPUT = {"sigmoid": "binary_crossentropy", "softmax": "categorical_crossentropy"}


def _compiled(model: Any, loss: str | None) -> Any:
    """``model``, compiled with ``loss`` when it has none (Keras and ONNX files carry no loss):
    by default the one that fits its output activation (mean squared error otherwise)."""
    if model.compiled and loss is None:
        return model
    activation = getattr(getattr(model.layers[-1], "activation", None), "name", "linear")
    model.compile(optimizer="sgd", loss=loss or _LOSS_FOR_OUTPUT.get(activation, "mse"))
    return model


def _numbers(option: str, text: str) -> list[float]:
    try:
        return [float(value) for value in text.split(",")]
    except ValueError:
        raise CommandError(f"{option} must be numbers separated by commas, e.g. {option} \"0.3,-1.2\"; "
                           f"got {text!r}") from None


def _trace(args: argparse.Namespace) -> int:
    import numpy as np

    model = _compiled(_load(args.model, compile=True), args.loss)
    x = np.array(_numbers("--x", args.x))
    n_features = int(np.prod(model.input_shape))
    if x.size != n_features:
        raise CommandError(f"--x has {x.size} numbers, but the model takes {n_features} features")
    n_outputs = int(np.prod(model.output_shape))
    if args.y is None:
        raise CommandError(f"--y is needed for the backward pass: the target of this example "
                           f"({n_outputs} number(s), or a class id for a softmax output)")
    y = np.array(_numbers("--y", args.y))
    if y.size == 1 and n_outputs > 1 and model.loss.name == "categorical_crossentropy":
        y = np.eye(n_outputs)[int(y[0])] if float(y[0]).is_integer() and 0 <= y[0] < n_outputs else y
    print(model.trace(x.reshape(model.input_shape), y, show=False))
    return 0


def _read_csv(path: str, n_features: int) -> tuple[Any, Any]:
    """Features and targets from a CSV file (an optional header row; the last columns are
    the targets)."""
    import numpy as np

    if not os.path.isfile(path):
        raise CommandError(f"no data file at {path!r}")
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
    has_header = any(c.isalpha() and c not in "eE" for c in first)
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=int(has_header), ndmin=2)
    except ValueError as exc:
        raise CommandError(f"{path!r} is not a CSV of numbers ({exc})") from None
    if table.shape[1] <= n_features:
        raise CommandError(f"{path!r} has {table.shape[1]} columns; the model takes {n_features} "
                           "features, followed by the target column(s)")
    return table[:, :n_features], table[:, n_features:].squeeze(axis=1) \
        if table.shape[1] == n_features + 1 else table[:, n_features:]


def _diagnose(args: argparse.Namespace) -> int:
    import numpy as np

    from glassnet.diagnostics import diagnose

    model = _compiled(_load(args.model, compile=True), args.loss)
    X, y = _read_csv(args.data, int(np.prod(model.input_shape)))
    print(diagnose(model, X, y, show=False))
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.plots is not None:
        require_extra("viz", "--plots")
        _check_folder_writable("--plots", args.plots)
    if args.mnist is not None and not os.path.exists(args.mnist):
        raise CommandError(f"--mnist {args.mnist!r} does not exist (give an MNIST folder or CSV file)")
    from glassnet import demos

    run = demos.DEMOS[args.name]
    kwargs = {"seed": args.seed, "verbose": args.verbose}
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    if args.name == "digit9" and args.mnist is not None:
        kwargs["path"] = args.mnist
    result = run(**kwargs)
    if result.baseline_accuracy is not None:
        print(f"always 'not 9' baseline accuracy: {result.baseline_accuracy:.4f}")
    print(f"test accuracy: {result.test_accuracy:.4f}")
    if args.plots:
        from glassnet.viz.report import write_demo_plots

        for path in write_demo_plots(result, args.plots, name=args.name, seed=args.seed):
            print(f"wrote {path}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    _load(args.model, compile=False).summary()
    return 0


def _explain(args: argparse.Namespace) -> int:
    from glassnet.explain import explain

    model = _load(args.model, compile=True)
    print(explain(model, batch_size=args.batch_size, latex=args.latex))
    return 0


def _export(args: argparse.Namespace) -> int:
    from glassnet.saving import check_save_path, refuse_same_file

    refuse_same_file("model", args.model, "onnx", args.onnx)
    check_save_path("onnx", args.onnx)
    require_extra("onnx", "glassnet export")
    _load(args.model, compile=False)  # a missing or damaged file is reported before importing onnx
    try:
        from glassnet.onnx import export_command
    except ImportError:
        raise CommandError('glassnet export needs the onnx extra: pip install "glassnet[onnx]"') from None
    # export_command prints its own one-line error (a layer ONNX cannot express, ...).
    return 0 if export_command(args.model, args.onnx, opset=args.opset) == 0 else 2


_MODEL_FILE = "a .glassnet file (model.save()), or a Keras .keras/.h5 or an .onnx file"
_LOSS_HELP = ("the loss to compute gradients with, for a Keras or ONNX file (default: from the "
              "output activation: binary or categorical cross-entropy, else mse)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="glassnet", description="A small, readable neural-network library that shows its mathematics."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="train one of the articles' worked examples")
    demo.add_argument("name", choices=["circles", "digit9", "fruit"])
    demo.add_argument("--seed", type=_number("--seed", 0), default=0, help="random seed (default 0)")
    demo.add_argument("--epochs", type=_number("--epochs", 1), default=None, help="number of epochs")
    demo.add_argument("--verbose", type=int, choices=[0, 1, 2], default=None,
                      help="0 silent, 1 progress bar, 2 one line per epoch (default: auto)")
    demo.add_argument("--mnist", default=None,
                      help="digit9: MNIST directory or CSV instead of the built-in slice")
    demo.add_argument("--plots", metavar="DIR", default=None,
                      help="write the animation, history, network and boundary pictures into DIR "
                           '(needs pip install "glassnet[viz]")')
    demo.set_defaults(func=_demo)

    explain = commands.add_parser(
        "explain", help="the shapes and equations of every layer of a saved model"
    )
    explain.add_argument("model", help=_MODEL_FILE)
    explain.add_argument("--batch-size", type=_number("--batch-size", 1), default=None,
                         help="show shapes for this many examples (default: symbolic m)")
    explain.add_argument("--latex", action="store_true", help="print LaTeX instead of plain text")
    explain.set_defaults(func=_explain)

    export = commands.add_parser("export", help="convert a saved model to ONNX (needs glassnet[onnx])")
    export.add_argument("model", help=_MODEL_FILE)
    export.add_argument("onnx", help="the .onnx file to write")
    export.add_argument("--opset", type=_number("--opset", 1), default=None, help="ONNX opset (default 17)")
    export.set_defaults(func=_export)

    summary = commands.add_parser("summary", help="print the summary of a saved model")
    summary.add_argument("model", help=_MODEL_FILE)
    summary.set_defaults(func=_summary)

    trace = commands.add_parser("trace", help="one example's forward and backward pass, every number")
    trace.add_argument("model", help=_MODEL_FILE)
    trace.add_argument("--x", required=True, help='the example\'s features, e.g. --x "0.3,-1.2"')
    trace.add_argument("--y", default=None, help="its target: the output value(s), or a class id")
    trace.add_argument("--loss", default=None, help=_LOSS_HELP)
    trace.set_defaults(func=_trace)

    diagnose = commands.add_parser("diagnose", help="why a model is stuck, on data from a CSV file")
    diagnose.add_argument("model", help=_MODEL_FILE)
    diagnose.add_argument("data", help="a CSV file: the features, then the target column(s)")
    diagnose.add_argument("--loss", default=None, help=_LOSS_HELP)
    diagnose.set_defaults(func=_diagnose)
    add_playground_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``glassnet`` command; returns the exit status (2 for any usage problem)."""
    args = build_parser().parse_args(argv)
    if getattr(args, "verbose", None) is None and args.command == "demo":
        args.verbose = "auto"
    try:
        return int(args.func(args) or 0)
    except (CommandError, OSError, ValueError) as exc:
        # OSError/ValueError: what the library raises for a bad file or argument that only
        # shows once read (an MNIST CSV of the wrong width, a full disk).
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"glassnet {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
