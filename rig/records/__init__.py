"""What a run leaves behind: the ledger, the event log, JUnit, the timeline picture, and the code's redactor."""
