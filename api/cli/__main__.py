"""Running the CLI package as a module: the same as the ``provision`` script."""

from api.cli.main import main

if __name__ == "__main__":
    main()
