"""Real-time delivery: `push(Push(...))` after a commit is the only entry (see hub.py)."""
