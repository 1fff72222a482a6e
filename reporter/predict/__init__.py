"""Predict: campaign response propensity, fitted on the last campaign's answers (Response)
and scored from plain numbers, so every customer gets a calibrated `p_response`."""
