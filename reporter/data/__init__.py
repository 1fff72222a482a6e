"""Data: reading the newest customer table and making it fit to model.

Owns the export layout (schema), loading and recognising files (load), repairs and exclusions
(clean), the feature registry and features per customer (features) and the synthetic table
generator (sample). Takes a file; gives typed, cleaned frames with every repair counted.
Imports nothing from a later stage.
"""
