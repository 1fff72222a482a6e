"""Model: the fitted segmentation as an artefact, and its life from week to week.

Owns the engine-neutral artefact (artefact: plain numbers in model.json, never a pickle), the
one stage sequence shared by fitting and scoring and the fit / score / refit / hold decision
(lifecycle), drift (drift) and scoring new customers with an archived model (score_new).
"""
