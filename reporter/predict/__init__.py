"""Predict: campaign response propensity. Owns the design matrix a propensity model reads,
its fit (logistic regression or gradient boosting by seeded stratified cross-validation,
calibrated out of sample), its grades on customers it never saw, and scoring from the plain
numbers saved in model.json, so every customer gets a calibrated `p_response`."""
