"""Small helpers every layer may use (the bottom of the package: imports nothing above errors)."""
