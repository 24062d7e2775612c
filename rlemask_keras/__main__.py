"""``python -m rlemask_keras``: the ``rlemask-keras`` command."""

import sys

from rlemask_keras.cli import main

sys.exit(main())
