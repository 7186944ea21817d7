"""Pure text work: the model's Markdown → Slack mrkdwn, where a message is cut, and how an answer maps onto messages."""
