"""``python -m lakebox.cli``: the same as the ``lakebox`` console script."""

from lakebox.cli import main

if __name__ == "__main__":
    main()
