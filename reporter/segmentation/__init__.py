"""Segmentation: numbers in, numbers out.

Owns scaling, PCA and clustering (segment), the choice of k (kselect), matching a refit to the
previous segments (align), stability and the comparison of engines (assess) and the profile
of any grouping (profile). Takes a feature table and plain parameters; gives segments per
customer and the evidence for them.
"""
