import sys

from pyfrr_pwr.cli import main

sys.exit(main())
