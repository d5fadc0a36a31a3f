"""The online store: the latest row per primary key of online-enabled groups, in LMDB."""
