"""The RAIN networks, one per file, plus the release config and strict checkpoint loading."""
