"""History: what each run recorded, and what changed since the previous one.

Owns the typed run record run.json (record: one writer, one reader, its format version) and
week-over-week comparison by persona, flag and customer ID (weekly).
"""
