"""`python -m snitk.train ...` (see ``snitk.training.train``)."""

import sys

from snitk.training.train import main, run  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
