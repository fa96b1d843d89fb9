"""``climnn demo``: the whole loop at small scale, from the configurations shipped in
this package (teacher.yaml, train.yaml, hybrid.yaml)."""
