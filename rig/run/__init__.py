"""A run: the procedure language, the interpreter, code entry, powered-time waits and a job from check to record."""
