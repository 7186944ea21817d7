"""Everything that talks to the model: the Bedrock adapter, one answer's calls, and continuation past max_tokens."""
