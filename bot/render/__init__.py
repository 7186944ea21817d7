"""Pure text work: the model's Markdown → Slack mrkdwn, where a message is cut so that each part keeps its
meaning, and how an answer maps onto messages."""
