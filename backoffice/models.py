"""No models: the module exists so that Django sends this app `post_migrate` (apps.py)."""
