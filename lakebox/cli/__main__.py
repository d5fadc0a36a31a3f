"""``python -m lakebox.cli``: the same as the ``lakebox`` console script (``lakebox.entry``)."""

from lakebox.entry import main

if __name__ == "__main__":
    main()
