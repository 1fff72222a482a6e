"""Brief: from an analysis to what a person reads.

Owns the view model (view: numbers and words, no drawings), charts drawn at render time
(charts), HTML, PDF and email rendering (render), pre-send checks (checks), the archive's
front page (index) and the terminal report of persona rules (rule_report).
"""
