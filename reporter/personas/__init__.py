"""Personas: the rules managers write, and naming customers with them.

Owns the rule language (rules), checking personas.yaml as a whole and naming segments and
flagging customers (rulebook), and the customer tables and lists a run exports (exports).
Takes segment profiles and features; gives a persona per segment and per customer, and flags.
"""
