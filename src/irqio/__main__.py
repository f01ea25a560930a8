import sys

from irqio.cli import main

sys.exit(main())
