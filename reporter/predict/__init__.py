"""Predict: campaign response propensity. Owns the design matrix a propensity model reads,
its fit (logistic regression or gradient boosting by seeded stratified cross-validation,
calibrated out of sample), its grades on customers it never saw, and scoring from the plain
numbers saved in model.json, so every customer gets a calibrated `p_response`; and BG/NBD with
Gamma-Gamma (lifetime.py, lifetime_fit.py), so every customer gets `p_alive`, `purchases_90d`
and `clv_12m`."""
