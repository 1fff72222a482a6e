"""App: the edges, where configuration meets the stages.

Owns the settings models, their loading and schema (settings) and their reference (reference),
config to plain parameters (params), the command line (cli/), the API (api/), one run from build
to delivery (pipeline), work on archived runs (archived: rerender, assign, replay) and the cron
scheduler (schedule). Nothing below this package reads a config file or the command line.
"""
