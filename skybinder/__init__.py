"""skybinder: a Binder that turns a repository link into a live Jupyter session."""

__version__ = "0.1.0"
