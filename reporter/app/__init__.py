"""App: the edges, where configuration meets the stages.

Owns the command line (cli), one run from build to delivery (pipeline), work on archived runs
(archived: rerender, assign, replay), config to plain parameters (params) and the cron
scheduler (schedule). Nothing below this package reads a config file or the command line.
"""
