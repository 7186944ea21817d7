"""Conversations: thread history as model turns, which threads are the bot's, who may ask, and the answer pool."""
