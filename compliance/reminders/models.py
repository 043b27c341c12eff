"""Tables of the reminders domain (the outbox, preferences, calendar tokens)."""
