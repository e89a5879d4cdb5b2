"""The artifact: figures and tables with provenance, verdicts against the paper, README blocks,
the ``reproduce`` pipeline.

``artifacts``  output folders, saving figures/tables with their sources and profile stamped
``verdicts``   our mean ± CI against a paper value
``notebook``   the first steps of every results notebook (profile check, runs on demand)
``plotting``   shared plots (heat maps, phase portraits, the two-replica frames)
``readme``     README result blocks generated from the files they cite
``summary``    the headline tables printed at the end of ``make reproduce``
``pipeline``   ``python -m analog_tt reproduce``: sweeps, notebooks, manifest
"""
