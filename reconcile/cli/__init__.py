"""The command line: argv → command functions → exit codes. The only layer that prints or exits."""
