import sys

from mydocker_net.cli import main

sys.exit(main())
