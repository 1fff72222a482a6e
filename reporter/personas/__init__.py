"""Personas: the rules managers write, and naming customers with them.

Owns personas.yaml's models and reader (spec), the rule language (rules), the colours a persona
may have (colours), checking the file as a whole and naming segments and flagging customers
(rulebook), and the customer tables and lists a run exports (exports).
Takes segment profiles and features; gives a persona per segment and per customer, and flags.
"""
