"""`python -m detectors.caption`: screen captions given as arguments, or `--eval FILE.csv` for the table."""

import sys

from detectors.caption.dataset import main

sys.exit(main())
