"""The turn graphs of miolumi, one builder per product.

Installed as ``miolumi.graphs``. Each product module exports ``builder`` (uncompiled, so
apps compile it with their own checkpointer and store) and ``graph`` (compiled without
a checkpointer, for LangGraph's server, which brings its own).
"""
