"""The names and numbers that define a box on disk, in one place: ``lakebox.box`` opens a
box with them and ``lakebox.glance`` (the console script's standard-library-only listing)
reads one with them. No imports, so the fast path pays nothing for them."""

FORMAT_VERSION = 1  # lakebox.toml's format_version this lakebox writes and reads
DEFAULT_DIRNAME = ".lakebox"  # the box used when neither --box nor $LAKEBOX_HOME names one
HOME_VARIABLE = "LAKEBOX_HOME"
TOML_NAME = "lakebox.toml"
CATALOG_NAME = NAMESPACE = "lakebox"  # the box's Iceberg SQL catalog and namespace
BUSY_TIMEOUT_S = 30.0  # how long a catalog connection waits for another writer
KEYINDEX_DIRNAME = ".keyindex"  # the groups' key indexes (a cache beside .locks: rebuilt when missing)
