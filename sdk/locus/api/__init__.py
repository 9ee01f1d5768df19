"""The REST status API (FastAPI) and its web page."""
