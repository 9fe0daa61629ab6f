"""`python -m rain_vtuber.devicecheck ...`: `rain-vtuber device-check ...`, with the CLI's logging and errors."""

import sys

from rain_vtuber.cli.main import main

sys.argv[1:1] = ["device-check"]
main()
