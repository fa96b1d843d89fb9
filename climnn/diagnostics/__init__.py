"""Diagnostics of model output (DESIGN.md, Layers): they read histories and datasets and
know nothing of how the output was produced."""
