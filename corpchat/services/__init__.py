"""The domain layer: plain Python and SQLModel, no Reflex.

Every function takes the acting user's id and enforces access itself.
"""
