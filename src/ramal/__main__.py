from ramal.cli.main import main

main()
