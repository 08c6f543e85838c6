"""The shared core: capabilities both products use (models, memory, emotion, ...).

Every public function here takes an optional ``agent_id``: given, data is scoped to
that persona; omitted, it is the user's one global stream. Core never imports a product.
"""
