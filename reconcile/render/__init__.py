"""Views of a Plan and of an apply result: text, JSON and Markdown. Pure functions returning strings."""
