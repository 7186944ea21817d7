"""Everything that talks to Slack: the Socket Mode connection, reads, and the scheduled writes of answers."""
