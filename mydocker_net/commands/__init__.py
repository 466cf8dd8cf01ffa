"""Pure builders: each returns a Cmd (an argument tuple) and runs nothing."""
