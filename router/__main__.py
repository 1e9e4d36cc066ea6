"""`python -m router`: the same command as `modelrollout router`."""

from __future__ import annotations

import argparse
import sys

from router.cli import add_arguments, run

__all__: list[str] = []

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m router", description="Run the traffic-splitting router.")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
