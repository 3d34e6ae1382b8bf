"""The bench: what is wired (pin map), how it moves (rails, keys, senses, clock), and how it is let go safely."""
