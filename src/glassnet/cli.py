"""The ``glassnet`` command: ``glassnet demo circles``, ``glassnet explain model.glassnet``, ..."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
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
    from glassnet.models import load_model

    load_model(args.model, compile=False).summary()
    return 0


def _explain(args: argparse.Namespace) -> int:
    from glassnet.explain import explain
    from glassnet.models import load_model

    model = load_model(args.model, compile=True)
    print(explain(model, batch_size=args.batch_size, latex=args.latex))
    return 0


def _export(args: argparse.Namespace) -> int:
    from glassnet.onnx import export_command

    return export_command(args.model, args.onnx, opset=args.opset)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glassnet", description="A small, readable neural-network library that shows its mathematics."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="train one of the articles' worked examples")
    demo.add_argument("name", choices=["circles", "digit9", "fruit"])
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--epochs", type=int, default=None, help="number of epochs")
    demo.add_argument("--verbose", type=int, choices=[0, 1, 2], default=None,
                      help="0 silent, 1 progress bar, 2 one line per epoch (default: auto)")
    demo.add_argument("--mnist", default=None,
                      help="digit9: MNIST directory or CSV instead of the built-in slice")
    demo.add_argument("--plots", metavar="DIR", default=None,
                      help="write the animation, history, network and boundary pictures into DIR")
    demo.set_defaults(func=_demo)

    explain = commands.add_parser(
        "explain", help="the shapes and equations of every layer of a saved model"
    )
    explain.add_argument("model", help="a file written by model.save()")
    explain.add_argument("--batch-size", type=int, default=None,
                         help="show shapes for this many examples (default: symbolic m)")
    explain.add_argument("--latex", action="store_true", help="print LaTeX instead of plain text")
    explain.set_defaults(func=_explain)

    export = commands.add_parser("export", help="convert a saved model to ONNX (needs glassnet[onnx])")
    export.add_argument("model", help="a file written by model.save()")
    export.add_argument("onnx", help="the .onnx file to write")
    export.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")
    export.set_defaults(func=_export)

    summary = commands.add_parser("summary", help="print the summary of a saved model")
    summary.add_argument("model")
    summary.set_defaults(func=_summary)
    from glassnet.playground import add_parser as add_playground_parser
    add_playground_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "verbose", None) is None and args.command == "demo":
        args.verbose = "auto"
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
