"""What stands in for a missing avatar: initials on a colour fixed per user."""

from __future__ import annotations

# Saturated mid-tones, picked to carry white initials in both light and dark themes.
PALETTE = (
    "#c0392b", "#d35400", "#b7950b", "#27ae60", "#16a085", "#2980b9",
    "#8e44ad", "#2c3e50", "#c2185b", "#00838f", "#6d4c41", "#5e35b1",
)


def initials_colour(user_id: int) -> str:
    """Stable across restarts and workers (unlike hash()), and neighbours differ."""
    # Knuth's multiplicative hash spreads consecutive ids over the palette.
    return PALETTE[((user_id * 2654435761) & 0xFFFFFFFF) % len(PALETTE)]


def initials(name: str) -> str:
    """Up to two letters: "Olena Petrenko" -> "OP", "bob" -> "B"."""
    words = [w for w in name.replace(".", " ").replace("_", " ").replace("-", " ").split() if w]
    letters = "".join(w[0] for w in words[:2] if w[0].isalnum())
    return letters.upper() or "?"
