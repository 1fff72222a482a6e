"""Spark: `engine: spark`, the same stages on a Spark table, for customer bases beyond one machine.

Owns the session and its checks (session), reading and checking where the data is (source),
clean, features, scoring, personas and flags as column expressions from the local engine's own
definitions (clean, features, segments, personas), the brief's figures and week-over-week
summed in Spark (figures, weekly), the exports written by Spark (exports) and the run that ties
them to the local engine's fitting on a sample (run). Takes a SparkSession and plain parameters;
gives the local engine's types, so the brief, the record and delivery never know which engine
ran. PySpark is imported only here: it is the optional [spark] extra.
"""
