"""`python -m rain_vtuber ...` is `rain-vtuber ...` (for machines where the console script is not on PATH)."""

from rain_vtuber.cli.main import main

main()
