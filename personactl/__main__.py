from personactl.cli import run

run()
