"""One module per ``%kafka`` subcommand: each builds its parser and calls one API function."""
