"""Security tests: raw WebSocket / HTTP attacks on a real production-mode app."""
