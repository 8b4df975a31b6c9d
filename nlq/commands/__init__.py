"""One module per `nlq` sub-command; each defines `command` (a click command)."""
