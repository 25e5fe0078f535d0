"""Positive and negative controls (`cryptotrain control`): the config's whole pipeline on synthetic
candles with a planted signal of known strength (data/planted.py), one executor job per cell
(`cell`), and the power table (`run`)."""
