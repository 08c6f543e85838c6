"""Remember and recall: what a user tells a Mio persona stays with that persona.

Run it with ``python examples/memory.py``; it keeps the memories in the data directory
(``MIOLUMI_HOME``), embeds them with the bundled offline model, and needs no chat model.
"""

from miolumi.config import load_settings
from miolumi.core.memory import MemoryManager

memory = MemoryManager(settings=load_settings())
memory.add("ada", "I'm allergic to peanuts.", agent_id="kai", importance=0.9)
memory.add("ada", "I play the cello every Sunday.", agent_id="kai")
memory.add("ada", "我下个月要去上海出差。")  # no persona: the global stream (Lumi)

best = memory.search("ada", "What can't I eat?", agent_id="kai", k=1)[0]
print(f"kai remembers: {best.text} ({best.timestamp:%Y-%m-%d})")
print("lumi remembers:", memory.search("ada", "出差", k=1)[0].text)
kai_knows = {hit.text for hit in memory.search("ada", "出差", agent_id="kai")}
print("kai knows about the trip:", "我下个月要去上海出差。" in kai_knows)

dump = memory.export("ada")  # JSON-ready; memory.import_(dump) restores it
print(f"{len(dump['memories'])} memories exported; forgetting ada:", memory.delete_user("ada"))
