"""The head unit: its family's profile, its display templates and the display as the rig reads it."""
