"""Segmentation of diffuse radio emission (halos, relics, filaments) with a U-Net trained on simulated skies.

Seed 004 (Radio U-Net): too few labelled images exist, so the network learns from simulated
observations with reference masks (:mod:`radioexplore.simulation.survey` writes them); large images
are cut into overlapping 192 px tiles whose overlap is cropped when the output mask is re-assembled;
a cluster is scored by the detection ratio R = sum of probability / pixels within an aperture.
Modules: :mod:`.scaling` (network input in units of the local noise), :mod:`.tiling` (overlapping
tiles and seamless re-assembly), :mod:`.train` (``segment-train``), :mod:`.clusters` (R scores),
:mod:`.run` (``segment``: the run directory's ``segments/``).
"""
