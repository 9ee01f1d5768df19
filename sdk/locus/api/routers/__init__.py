"""One router per concept the API serves."""
