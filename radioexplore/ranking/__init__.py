"""Ranking tiles and objects for peculiarity: the artefact axis, object-level ranking and what they share.

Grows into the one home of ranking (the Isolation Forest of ``radioexplore.isolation`` and the active
learning of ``radioexplore.active`` move here with the regrouping).
"""
