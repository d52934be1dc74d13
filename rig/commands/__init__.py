"""One module per `rig` sub-command; each exposes `main(argv: list[str]) -> int`."""
