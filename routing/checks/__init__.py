"""Availability checks: does a reported URL still answer, without ever reading what it serves.

``guard`` decides which addresses may be contacted, ``probe`` checks one URL (status line and
headers only) over the HTTP/1.1 exchange of ``wire``, ``runner`` checks many at once within a
global limit and a per-host limit that ``slots`` shares between processes. Nothing here stores
anything: the case's life (streaks, removal, moves, reappearance) is built on these results.
"""
