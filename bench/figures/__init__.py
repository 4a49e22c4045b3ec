"""One module per figure; each exposes ``run(ctx) -> Figure``."""
