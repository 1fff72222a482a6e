"""What the tests share: a project builder with the quick settings, an archive published once
per worker and copied per test, and the real servers (tests/smtp_server.py and its siblings)."""
