from __future__ import annotations


def run(ctx):
    raise RuntimeError(ctx.config.get("message", "boom"))
