"""Offline training of column-physics emulators: configuration, loop, command (issue 12)."""
