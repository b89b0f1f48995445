"""`python -m housing_assets.cli ...` = `housing ...`."""

import sys

from housing_assets.cli import main

sys.exit(main())
