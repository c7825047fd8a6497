"""cardtool: the operator's command line over cardlib (personalize, emulate, read, verify, demo)."""
