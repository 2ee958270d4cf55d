"""crucible-bridge: mirrors a subtensor into crucible's local chain directory
(metagraph.json, commitments.json) and submits the validator's weights.jsonl
entries to the chain."""

__version__ = "0.1.0"
