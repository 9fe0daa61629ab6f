"""Outputs: where finished frames go (NDI, files, ...); see base.py for the interface, registry.py for the kinds."""
