from personactl.cli import main

main()
