"""Delivery: getting an archived brief to people, once.

Owns email composition and SMTP (mail), who gets which run and when, holding and releasing
(dispatch), and the delivery ledger that makes every send safe to repeat (ledger).
"""
